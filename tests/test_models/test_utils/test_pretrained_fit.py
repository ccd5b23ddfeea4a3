"""A backbone's pretrained checkpoint must fit, or init_weights names the keys."""
import pytest
import torch

from mmmtl.registry import MODELS

NORM = dict(type='BN', requires_grad=True)
SWIN = dict(type='SwinTransformer', embed_dims=8, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2),
            window_size=4, drop_path_rate=0.)
RESNET = dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8,
              norm_cfg=NORM, contract_dilation=True)


def build_model(backbone, in_channels, **kwargs):
    return MODELS.build(dict(
        type='MultiTaskEncoderDecoder',
        backbone=backbone,
        neck=dict(type='MultiScaleConcatNeck', in_channels=in_channels),
        task_heads=dict(depth=dict(type='ATRCBaselineHead', channels=8, out_channels=1,
                                   norm_cfg=NORM, loss_decode=dict(type='DepthL1Loss'))),
        **kwargs))


def swin_model(**backbone_kwargs):
    return build_model(dict(SWIN, **backbone_kwargs), [8, 16, 32, 64])


def resnet_model(**backbone_kwargs):
    return build_model(dict(RESNET, **backbone_kwargs), [8, 16, 32, 64])


def trained_state(model):
    """A state dict with values no initialiser produces."""
    torch.manual_seed(1)
    return {key: (torch.randn_like(value) if value.is_floating_point() else value)
            for key, value in model.state_dict().items()}


def test_full_model_checkpoint_loads_with_prefix(tmp_path):
    source = resnet_model()
    state = trained_state(source)
    path = tmp_path / 'full.pth'
    torch.save(dict(state_dict=state, meta=dict(iter=3)), path)
    model = resnet_model(init_cfg=dict(type='Pretrained', checkpoint=str(path),
                                       prefix='backbone.'))
    model.init_weights()
    for key, value in model.backbone.state_dict().items():
        torch.testing.assert_close(value, state['backbone.' + key], msg=key)


def test_wrong_prefix_is_an_error_naming_missing_keys(tmp_path):
    path = tmp_path / 'full.pth'
    torch.save(dict(state_dict=trained_state(resnet_model())), path)
    model = resnet_model(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError) as error:
        model.init_weights()
    message = str(error.value)
    assert str(path) in message and 'ResNetV1c' in message
    assert 'stem.0.weight' in message  # a missing key
    assert 'backbone.stem.0.weight' in message  # what the checkpoint has instead
    assert 'prefix' in message


def test_shape_mismatch_is_an_error_naming_the_key(tmp_path):
    state = {key[len('backbone.'):]: value
             for key, value in trained_state(resnet_model()).items()
             if key.startswith('backbone.')}
    state['layer2.0.conv1.weight'] = torch.zeros(3, 3, 3, 3)
    path = tmp_path / 'other_arch.pth'
    torch.save(state, path)
    model = resnet_model(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match=r'layer2\.0\.conv1\.weight \(3, 3, 3, 3\) vs'):
        model.init_weights()


def test_swin_imagenet_style_checkpoint_without_output_norms_fits(tmp_path):
    """Classification checkpoints lack the per-stage norms; that is not an error."""
    source = swin_model()
    state = {key: value for key, value in trained_state(source).items()
             if key.startswith('backbone.') and '.norm0.' not in key
             and not key.startswith('backbone.norm')}
    state['backbone.norm.weight'] = torch.ones(64)  # a classifier's final norm
    path = tmp_path / 'swin.pth'
    torch.save(dict(state_dict=state), path)
    model = swin_model(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    loaded = model.backbone.state_dict()
    for key, value in state.items():
        if key[len('backbone.'):] in loaded:
            torch.testing.assert_close(loaded[key[len('backbone.'):]], value, msg=key)


def test_swin_checkpoint_in_original_layout_is_an_error(tmp_path):
    """Official Swin keys (``layers.*``) need converting to mmseg's (``stages.*``)."""
    state = {key.replace('backbone.stages.', 'layers.'): value
             for key, value in trained_state(swin_model()).items()
             if key.startswith('backbone.')}
    path = tmp_path / 'swin_official.pth'
    torch.save(dict(model=state), path)
    model = swin_model(init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    with pytest.raises(ValueError, match=r'does not fit SwinTransformer.*stages\.0\.blocks'):
        model.init_weights()


def test_check_can_be_switched_off(tmp_path):
    path = tmp_path / 'full.pth'
    torch.save(dict(state_dict=trained_state(resnet_model())), path)
    model = build_model(dict(RESNET, init_cfg=dict(type='Pretrained', checkpoint=str(path))),
                        [8, 16, 32, 64], pretrained_min_coverage=None)
    model.init_weights()  # mmengine only logs what it could not load
