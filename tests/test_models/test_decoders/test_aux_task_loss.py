"""Auxiliary outputs are supervised through ``decoder.aux_task_loss``: by default
the task's own loss times ``aux_loss_weights[name]``."""
import torch
from mmengine.structures import PixelData

from mmmtl.models.decoders import BaseMultiTaskDecoder
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample


@MODELS.register_module(force=True)
class _TwoScaleDepthDecoder(BaseMultiTaskDecoder):
    """1x1 conv to depth, plus the same map at half resolution as aux 'coarse'."""

    def __init__(self, in_channels, **kwargs):
        super().__init__(tasks=['depth'], out_channels=dict(depth=1),
                         task_losses=dict(depth=dict(type='DepthL1Loss', loss_weight=2.)),
                         **kwargs)
        self.conv = torch.nn.Conv2d(in_channels, 1, 1)

    def forward_with_aux(self, feats):
        depth = self.conv(feats[0])
        return dict(depth=depth), dict(coarse=dict(depth=depth[:, :, ::2, ::2] + 1))


def test_default_aux_loss_is_the_task_loss_times_its_weight():
    torch.manual_seed(0)
    model = MODELS.build(dict(
        type='MultiTaskEncoderDecoder',
        backbone=dict(type='ResNetV1c', depth=18, out_indices=(0, ), init_cfg=None),
        decoder=dict(type='_TwoScaleDepthDecoder', in_channels=64,
                     aux_loss_weights=dict(coarse=0.25))))
    sample = MultiTaskDataSample(metainfo=dict(img_shape=(64, 64), ori_shape=(64, 64)))
    sample.gt_depth = PixelData(data=torch.rand(1, 64, 64) + 0.5)
    inputs = torch.randn(2, 3, 64, 64)
    losses = model.loss(inputs, [sample, sample])
    assert set(losses) == {'loss_depth', 'loss_depth_coarse'}
    _, aux = model.forward_tasks_with_aux(inputs)
    target = sample.gt_depth.data[None].expand(2, 1, 64, 64)
    expected = 0.25 * 2. * (aux['coarse']['depth'] - target).abs().mean()
    torch.testing.assert_close(losses['loss_depth_coarse'], expected)
