from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule

from mmmtl.registry import MODELS

from .base_task_head import BaseTaskHead


@MODELS.register_module()
class ATRCBaselineHead(BaseTaskHead):
    """The per-task head of the ATRC multi-task baseline.

    3x3 conv (no bias) -> BN -> ReLU -> 1x1 conv (bias) to the task's
    channels. It reads the concatenated multi-scale map of
    :class:`MultiScaleConcatNeck` (stride 4); the segmentor upsamples its
    output to the input size.

    Args:
        in_channels: Channels of the input map (270 HRNet18, 1440 Swin-T/S).
        channels: Hidden channels (67 = in // 4 for HRNet18, 96 for Swin).
        norm_cfg: Norm layer (``SyncBN`` in multi-GPU configs).
        act_cfg: Activation.
        **kwargs: See :class:`BaseTaskHead` (task, out_channels, loss_decode).
    """

    def __init__(self, in_channels: int, channels: int,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = dict(
                     type='Normal', std=0.01, override=dict(name='conv_out')),
                 **kwargs) -> None:
        super().__init__(init_cfg=init_cfg, **kwargs)
        self.in_channels = in_channels
        self.channels = channels
        self.conv = ConvModule(in_channels, channels, 3, padding=1, bias=False,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.conv_out = nn.Conv2d(channels, self.out_channels, 1, bias=True)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """feats[in_index]: (N, in_channels, H, W) -> (N, out_channels, H, W)."""
        return self.conv_out(self.conv(feats[self.in_index]))
