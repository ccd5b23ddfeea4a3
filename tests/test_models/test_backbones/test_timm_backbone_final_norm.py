"""TimmNCHWBackbone(final_norm=True): the plain-ViT layout of InvPT (intermediate
blocks as they are, the last one through the model's final norm)."""
import pytest
import timm
import torch

from mmmtl.models.backbones import TimmNCHWBackbone


def test_last_output_is_normalised_and_the_others_are_not():
    torch.manual_seed(0)
    backbone = TimmNCHWBackbone('vit_tiny_patch16_224', out_indices=(2, 5, 8, 11), final_norm=True,
                            img_size=(64, 96), dynamic_img_size=True).eval()
    assert backbone.out_channels == [192] * 4
    reference = timm.create_model('vit_tiny_patch16_224', pretrained=False, num_classes=0,
                                  img_size=(64, 96), dynamic_img_size=True).eval()
    reference.load_state_dict(backbone.timm_model.model.state_dict())
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        feats = backbone(x)
        tokens = reference.forward_features(x)  # after all blocks and the final norm
        raw = reference.forward_intermediates(x, indices=[2, 5, 8], norm=False,
                                              intermediates_only=True)
    assert [tuple(f.shape) for f in feats] == [(2, 192, 4, 6)] * 4
    last = tokens[:, 1:].transpose(1, 2).reshape(2, 192, 4, 6)  # drop the class token
    torch.testing.assert_close(feats[-1], last)
    for ours, theirs in zip(feats[:3], raw):
        torch.testing.assert_close(ours, theirs)
    # the final norm is a parameter of the backbone (the authors' ViT keeps it)
    assert any(name.endswith('model.norm.weight') for name, _ in backbone.named_parameters())


def test_other_sizes_interpolate_the_position_embedding():
    backbone = TimmNCHWBackbone('vit_tiny_patch16_224', out_indices=(11, ), final_norm=True,
                            img_size=(64, 96), dynamic_img_size=True)
    assert backbone(torch.randn(1, 3, 96, 128))[0].shape == (1, 192, 6, 8)


def test_final_norm_needs_a_vit_like_model():
    with pytest.raises(ValueError, match="final_norm needs a timm model"):
        TimmNCHWBackbone('resnet18', out_indices=(1, 2), final_norm=True)
