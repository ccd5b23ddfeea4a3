"""DeMT's deformable mixer: channel mixing, then per-channel deformable sampling."""
from typing import Optional

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from torch import Tensor

from .channel_deform_conv import ChannelDeformConv2d


class DeformableMixerLayer(nn.Module):
    """One deformable mixer layer.

    Channel-aware mixing (1x1 conv -> GELU -> norm), then the spatial-aware
    deformable operator with a residual connection
    (``x + norm(GELU(ChannelDeformConv2d(x)))``), in the order of the
    authors' released code.

    Args:
        channels: Feature channels C.
        window: Neighbourhood side of the deformable offsets.
        norm_cfg: Norm layer config.
        act_cfg: Activation config.

    Shapes: (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, window: int = 3,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN', requires_grad=True)
        act_cfg = act_cfg or dict(type='GELU')
        self.channel_mix = nn.Conv2d(channels, channels, 1)
        self.mix_act = build_activation_layer(act_cfg)
        self.mix_norm = build_norm_layer(norm_cfg, channels)[1]
        self.deform = ChannelDeformConv2d(channels, channels, window=window)
        self.deform_act = build_activation_layer(act_cfg)
        self.deform_norm = build_norm_layer(norm_cfg, channels)[1]

    def forward(self, x: Tensor) -> Tensor:
        x = self.mix_norm(self.mix_act(self.channel_mix(x)))
        return x + self.deform_norm(self.deform_act(self.deform(x)))


class DeformableMixer(nn.Sequential):
    """``depth`` stacked :class:`DeformableMixerLayer` (DeMT's encoder for one task).

    Shapes: (N, C, H, W) -> (N, C, H, W), the task's deformed features.
    """

    def __init__(self, channels: int, depth: int = 1, window: int = 3,
                 norm_cfg: Optional[dict] = None, act_cfg: Optional[dict] = None) -> None:
        if depth < 1:
            raise ValueError(f'DeformableMixer: depth must be >= 1, got {depth}.')
        super().__init__(*[
            DeformableMixerLayer(channels, window=window, norm_cfg=norm_cfg, act_cfg=act_cfg)
            for _ in range(depth)
        ])
