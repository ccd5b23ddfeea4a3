from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.models.utils import resize

from mmmtl.registry import MODELS


@MODELS.register_module()
class MultiScaleConcatNeck(nn.Module):
    """Resize every backbone output to the finest one and concatenate them.

    The shared step of the ATRC multi-task baseline: HRNet18's four outputs
    give 18 + 36 + 72 + 144 = 270 channels at stride 4, Swin-T/S's give
    96 + 192 + 384 + 768 = 1440.

    Args:
        in_channels: Channels of the backbone outputs.
        in_indices: Which backbone outputs to use (default: all).
        align_corners: ``align_corners`` of the bilinear resize.
    """

    def __init__(self, in_channels: Sequence[int], in_indices: Optional[Sequence[int]] = None,
                 align_corners: bool = False) -> None:
        super().__init__()
        self.in_indices = list(in_indices) if in_indices is not None else list(
            range(len(in_channels)))
        self.in_channels = [in_channels[i] for i in self.in_indices]
        self.out_channels = sum(self.in_channels)
        self.align_corners = align_corners

    def forward(self, feats: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        """feats: backbone outputs (N, C_i, H_i, W_i) -> ((N, sum C_i, H_0, W_0),)."""
        selected: List[torch.Tensor] = [feats[i] for i in self.in_indices]
        for feat, channels in zip(selected, self.in_channels):
            if feat.shape[1] != channels:
                raise ValueError(f'{type(self).__name__}: a backbone output has '
                                 f'{feat.shape[1]} channels, in_channels says {channels}.')
        size = selected[0].shape[2:]
        upsampled = [selected[0]] + [
            resize(feat, size=size, mode='bilinear', align_corners=self.align_corners)
            for feat in selected[1:]
        ]
        return (torch.cat(upsampled, dim=1), )
