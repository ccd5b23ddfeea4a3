"""tools/model_converters/timm_vit2mmmtl.py: a timm ViT checkpoint becomes a
Pretrained checkpoint that TimmNCHWBackbone loads completely."""
import timm
import torch
from timm.layers import resample_abs_pos_embed

from mmmtl.models.backbones import TimmNCHWBackbone
from mmmtl.models.utils import verify_backbone_pretrained

from .utils import PYTHON, run_tool


def test_converted_checkpoint_loads_every_tensor_with_a_resized_position_embedding(tmp_path):
    torch.manual_seed(0)
    source = timm.create_model('vit_tiny_patch16_224', pretrained=False)  # 14x14 grid, head
    src = tmp_path / 'vit_tiny.pth'
    torch.save(source.state_dict(), src)
    out = tmp_path / 'converted' / 'vit_tiny_64x96.pth'
    log = run_tool([PYTHON, 'tools/model_converters/timm_vit2mmmtl.py', str(src), str(out),
                    '--img-size', '64', '96'])
    assert 'pos_embed of 25 tokens for 64x96' in log

    backbone = TimmNCHWBackbone('vit_tiny_patch16_224', out_indices=(5, 11), final_norm=True,
                            img_size=(64, 96), dynamic_img_size=True,
                            init_cfg=dict(type='Pretrained', checkpoint=str(out)))
    verify_backbone_pretrained(backbone, min_coverage=1.0)  # every tensor, right shapes
    backbone.init_weights()
    loaded = backbone.timm_model.model.state_dict()
    expected = source.state_dict()
    for key, value in loaded.items():
        if key == 'pos_embed':
            torch.testing.assert_close(
                value, resample_abs_pos_embed(expected[key], [4, 6], num_prefix_tokens=1))
        else:
            torch.testing.assert_close(value, expected[key], msg=key)
    assert not any(key.startswith('timm_model.model.head') for key in
                   torch.load(out, weights_only=True)['state_dict'])


def test_a_state_dict_of_another_model_is_refused(tmp_path):
    src = tmp_path / 'resnet.pth'
    torch.save(timm.create_model('resnet18', pretrained=False).state_dict(), src)
    try:
        run_tool([PYTHON, 'tools/model_converters/timm_vit2mmmtl.py', str(src),
                  str(tmp_path / 'out.pth'), '--img-size', '64', '64'])
    except AssertionError as error:
        assert "no 'pos_embed'; not a timm ViT state dict" in str(error)
    else:
        raise AssertionError('a ResNet checkpoint was converted')
