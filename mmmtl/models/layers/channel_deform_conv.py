"""Deformable convolution that samples every input channel at its own offset (DeMT)."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torchvision.ops import deform_conv2d


def grid_sample_channel_deform_conv2d(x: Tensor, offset: Tensor, weight: Tensor,
                                      bias: Optional[Tensor] = None) -> Tensor:
    """``deform_conv2d`` with a 1x1 kernel and one offset group per input
    channel, written with ``grid_sample`` (exportable to ONNX GridSample).

    Channel c at pixel (i, j) is read bilinearly at ``(i + dy, j + dx)``,
    ``(dy, dx) = offset[:, 2c : 2c + 2, i, j]``; taps outside the map read
    zero, as in torchvision. Pixel p of a side of size S is the normalised
    coordinate ``(2p + 1) / S - 1`` of ``align_corners=False`` (defined for
    S = 1 too). A 1x1 convolution then mixes the sampled channels.

    Shapes: x (N, C, H, W), offset (N, 2C, H, W), weight (C_out, C, 1, 1),
    bias (C_out,) -> (N, C_out, H, W).
    """
    batch, channels, height, width = x.shape
    offset = offset.reshape(batch, channels, 2, height, width)
    rows = torch.arange(height, dtype=x.dtype, device=x.device).view(1, 1, -1, 1)
    cols = torch.arange(width, dtype=x.dtype, device=x.device).view(1, 1, 1, -1)
    grid_y = (2 * (rows + offset[:, :, 0]) + 1) / height - 1
    grid_x = (2 * (cols + offset[:, :, 1]) + 1) / width - 1
    grid = torch.stack([grid_x, grid_y], dim=-1).reshape(batch * channels, height, width, 2)
    sampled = F.grid_sample(x.reshape(batch * channels, 1, height, width), grid,
                            mode='bilinear', padding_mode='zeros', align_corners=False)
    return F.conv2d(sampled.reshape(batch, channels, height, width), weight, bias)


class WindowOffsetPredictor(nn.Module):
    """Per-channel sampling offsets of :class:`ChannelDeformConv2d`.

    DeMT's offset generator: a 3x3 conv predicts a displacement of every
    point of a ``window x window`` neighbourhood around each pixel; the
    displaced neighbourhood, in absolute 1-based (row, column) coordinates of
    the feature map, goes through a grouped 3x3 conv (row coordinates -> the
    first C offset channels, column coordinates -> the last C) that gives one
    offset pair per input channel. The displacement conv starts at zero
    weights, so training starts from the regular neighbourhood.

    Args:
        channels: Input channels C.
        window: Side of the neighbourhood (odd).

    Shapes: (N, C, H, W) -> offsets (N, 2C, H, W), pairs (dy, dx) per channel
    as ``torchvision.ops.deform_conv2d`` reads them.
    """

    def __init__(self, channels: int, window: int = 3) -> None:
        super().__init__()
        if window < 1 or window % 2 == 0:
            raise ValueError(f'WindowOffsetPredictor: window must be odd and positive, '
                             f'got {window}.')
        self.window = window
        points = window * window
        self.displacement = nn.Conv2d(channels, 2 * points, 3, padding=1)
        self.to_offsets = nn.Conv2d(2 * points, 2 * channels, 3, padding=1, groups=2)
        nn.init.zeros_(self.displacement.weight)

    def window_positions(self, height: int, width: int, like: Tensor) -> Tensor:
        """(1, 2 * window**2, H, W): rows of the window points, then their columns."""
        radius = self.window // 2
        steps = torch.arange(-radius, radius + 1, dtype=like.dtype, device=like.device)
        step_rows, step_cols = torch.meshgrid(steps, steps, indexing='ij')
        rows = torch.arange(1, height + 1, dtype=like.dtype, device=like.device)
        cols = torch.arange(1, width + 1, dtype=like.dtype, device=like.device)
        row_pos = (step_rows.reshape(-1, 1, 1) + rows.view(1, -1, 1)).expand(-1, height, width)
        col_pos = (step_cols.reshape(-1, 1, 1) + cols.view(1, 1, -1)).expand(-1, height, width)
        return torch.cat([row_pos, col_pos], dim=0).unsqueeze(0)

    def forward(self, x: Tensor) -> Tensor:
        positions = self.window_positions(x.shape[2], x.shape[3], x) + self.displacement(x)
        return self.to_offsets(positions)


class ChannelDeformConv2d(nn.Module):
    """DeMT's spatial-aware deformable operator.

    Every input channel is sampled (bilinearly, zero outside the map) at its
    own learnt offset, then a 1x1 weight mixes the sampled channels:
    ``torchvision.ops.deform_conv2d`` with a 1x1 kernel and one offset group
    per input channel. Offsets come from :class:`WindowOffsetPredictor`.

    During ONNX export (``torch.onnx.is_in_onnx_export()``) the same
    operation is computed by :func:`grid_sample_channel_deform_conv2d`, since
    torchvision's op has no ONNX conversion; its GridSample needs opset
    ``onnx_min_opset``. Training, inference and FLOP counting use
    torchvision's op.

    Args:
        in_channels: C_in.
        out_channels: C_out.
        window: Neighbourhood side of the offset predictor.
        bias: Add a learnt bias.

    Shapes: (N, C_in, H, W) -> (N, C_out, H, W).
    """

    onnx_min_opset = 16  # ONNX GridSample

    def __init__(self, in_channels: int, out_channels: int, window: int = 3,
                 bias: bool = True) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.offset_predictor = WindowOffsetPredictor(in_channels, window)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default initialisation of a 1x1 convolution."""
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        offset = self.offset_predictor(x)
        if torch.onnx.is_in_onnx_export():
            return grid_sample_channel_deform_conv2d(x, offset, self.weight, self.bias)
        return deform_conv2d(x, offset, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'window={self.offset_predictor.window}, bias={self.bias is not None}')
