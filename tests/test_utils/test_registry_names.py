"""No mmmtl module hides an mmseg / mmengine one under the same (or same-looking) name."""
import torch
from mmengine.registry import Registry

import mmmtl.registry as mmmtl_registry
from mmmtl.models.backbones import TimmNCHWBackbone
from mmmtl.registry import MODELS


def _registries():
    for name in dir(mmmtl_registry):
        registry = getattr(mmmtl_registry, name)
        if isinstance(registry, Registry) and registry.scope == 'mmmtl':
            yield name, registry


def test_no_mmmtl_name_shadows_a_parent_registry_name():
    clashes = []
    for name, registry in _registries():
        ours = set(registry.module_dict)
        parent = registry.parent
        while parent is not None:
            parent.import_from_location()
            theirs = {key.lower(): key for key in parent.module_dict}
            clashes += [(name, key, parent.scope, theirs[key.lower()])
                        for key in ours if key.lower() in theirs]
            parent = parent.parent
    assert not clashes, f'(registry, mmmtl name, parent scope, parent name): {clashes}'
    assert MODELS.module_dict['TimmNCHWBackbone'] is TimmNCHWBackbone  # mmseg: TIMMBackbone


def test_timm_nchw_backbone_returns_channels_first_maps():
    # timm's Swin gives NHWC features; ResNet gives NCHW: both come out NCHW
    swin = TimmNCHWBackbone('swin_tiny_patch4_window7_224', embed_dim=8, depths=(1, 1, 1, 1),
                            num_heads=(1, 1, 1, 1), img_size=64, window_size=4)
    resnet = TimmNCHWBackbone('resnet10t', out_indices=(1, 2, 3, 4))
    for backbone, channels in ((swin, [8, 16, 32, 64]), (resnet, [64, 128, 256, 512])):
        feats = backbone(torch.randn(1, 3, 64, 64))
        assert backbone.out_channels == channels
        assert [tuple(f.shape) for f in feats] == [
            (1, c, 64 // 2**(i + 2), 64 // 2**(i + 2)) for i, c in enumerate(channels)]
