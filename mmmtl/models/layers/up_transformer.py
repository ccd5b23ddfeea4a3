"""The UP-Transformer block of InvPT (Ye and Xu, ECCV 2022).

The features of all ``T`` tasks at one scale are held as one tensor
``(N, T, C, H, W)``; self-attention runs jointly over the ``T * H * W``
tokens of all tasks, so every position of every task attends to every
(pooled) position of every task. Queries come from a stride-2 depthwise
convolution, keys and values from average pooling, which keeps the
attention affordable at high resolutions. The pre-softmax attention scores
of the previous (coarser) stage are upsampled along the query axis and
fused with the current ones by a 1x1 convolution over heads (cross-scale
message passing): with key pooling strides doubling from stage to stage,
the number of keys stays the same, so the score maps line up.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmcv.cnn.bricks.drop import DropPath
from torch import Tensor


class CrossScaleSelfAttention(nn.Module):
    """Multi-task self-attention with reduced queries, keys and values.

    Args:
        num_tasks: Number of tasks ``T``.
        channels: Channels ``C`` of every task's features.
        num_heads: Attention heads; ``C`` must be divisible by it.
        kv_stride: Average-pooling kernel and stride of keys and values.
        q_stride: Stride of the depthwise query convolution (3x3).
        qkv_bias: Bias of the query / key / value projections.
        fuse_previous: Fuse the previous stage's attention scores (all
            stages but the first).
        norm_cfg: Norm of the query convolution (per channel, so per task).
        attn_drop: Dropout on the attention weights.
        proj_drop: Dropout after the output projection.

    Note:
        Scores are scaled by ``C ** -0.5`` (the full width, not the head
        width), as in the authors' code.
    """

    def __init__(self,
                 num_tasks: int,
                 channels: int,
                 num_heads: int,
                 kv_stride: int,
                 q_stride: int = 2,
                 qkv_bias: bool = True,
                 fuse_previous: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 attn_drop: float = 0.,
                 proj_drop: float = 0.) -> None:
        super().__init__()
        if channels % num_heads:
            raise ValueError(f'CrossScaleSelfAttention: channels {channels} are not divisible '
                             f'by num_heads {num_heads}.')
        self.num_tasks = num_tasks
        self.channels = channels
        self.num_heads = num_heads
        self.scale = channels**-0.5
        # One depthwise conv over the T*C stacked channels = one per task.
        self.q_conv = nn.Conv2d(num_tasks * channels, num_tasks * channels, 3,
                                stride=q_stride, padding=1, groups=num_tasks * channels,
                                bias=False)
        self.q_norm = build_norm_layer(norm_cfg, num_tasks * channels)[1]
        self.kv_pool = nn.AvgPool2d(kv_stride, stride=kv_stride, ceil_mode=True)
        self.q_proj = nn.Linear(channels, channels, bias=qkv_bias)
        self.k_proj = nn.Linear(channels, channels, bias=qkv_bias)
        self.v_proj = nn.Linear(channels, channels, bias=qkv_bias)
        self.fuse = nn.Conv2d(2 * num_heads, num_heads, 1) if fuse_previous else None
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(channels, channels)
        self.proj_drop = nn.Dropout(proj_drop)

    def _heads(self, maps: Tensor, proj: nn.Linear) -> Tensor:
        """(N, T*C, h, w) -> tokens of all tasks, per head: (N, heads, T*h*w, C/heads)."""
        batch, _, height, width = maps.shape
        tokens = maps.view(batch, self.num_tasks, self.channels, height * width)
        tokens = tokens.transpose(2, 3).reshape(batch, -1, self.channels)
        tokens = proj(tokens)
        return tokens.view(batch, -1, self.num_heads,
                           self.channels // self.num_heads).transpose(1, 2)

    def _upsample_scores(self, scores: Tensor, prev_grid: Tuple[int, int],
                         grid: Tuple[int, int]) -> Tensor:
        """Previous scores (N, heads, T*hp*wp, K) -> (N, heads, T*h*w, K), bilinear
        over every task's query grid."""
        batch, heads, _, keys = scores.shape
        maps = scores.view(batch, heads, self.num_tasks, *prev_grid, keys)
        maps = maps.permute(0, 1, 2, 5, 3, 4).reshape(-1, keys, *prev_grid)
        maps = F.interpolate(maps, size=grid, mode='bilinear', align_corners=False)
        maps = maps.view(batch, heads, self.num_tasks, keys, grid[0] * grid[1])
        return maps.transpose(3, 4).reshape(batch, heads, -1, keys)

    def forward(self, x: Tensor, prev: Optional[Tuple[Tensor, Tuple[int, int]]] = None
                ) -> Tuple[Tensor, Tuple[Tensor, Tuple[int, int]]]:
        """Attend over all tasks' tokens.

        Args:
            x: (N, T, C, H, W) normalised features.
            prev: The previous stage's ``(scores, query grid)``: scores
                (N, heads, T*hp*wp, K) before softmax; needed iff
                ``fuse_previous``.

        Returns:
            (N, T, C, H, W) attention output (upsampled from the query grid
            to H x W) and ``(scores, query grid)`` for the next stage.
        """
        batch, num_tasks, channels, height, width = x.shape
        stacked = x.reshape(batch, num_tasks * channels, height, width)
        q_maps = self.q_norm(self.q_conv(stacked))
        kv_maps = self.kv_pool(stacked)
        grid = tuple(q_maps.shape[2:])
        q = self._heads(q_maps, self.q_proj)
        k = self._heads(kv_maps, self.k_proj)
        v = self._heads(kv_maps, self.v_proj)
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        if self.fuse is not None:
            if prev is None:
                raise ValueError('CrossScaleSelfAttention: fuse_previous is set but no scores '
                                 'of a previous stage were given.')
            prev_scores, prev_grid = prev
            if prev_scores.shape[-1] != scores.shape[-1]:
                raise ValueError(
                    f'CrossScaleSelfAttention: the previous stage has {prev_scores.shape[-1]} '
                    f'keys, this one {scores.shape[-1]}; the key pooling stride must double '
                    'while the resolution doubles.')
            upsampled = self._upsample_scores(prev_scores, prev_grid, grid)
            scores = self.fuse(torch.cat([scores, upsampled], dim=1))
        attn = self.attn_drop(scores.softmax(dim=-1))
        out = torch.matmul(attn, v)  # (N, heads, T*h*w, C/heads)
        out = out.transpose(1, 2).reshape(batch, -1, channels)
        out = self.proj_drop(self.proj(out))
        out = out.view(batch, num_tasks, grid[0] * grid[1], channels).transpose(2, 3)
        out = out.reshape(batch * num_tasks, channels, *grid)
        out = F.interpolate(out, size=(height, width), mode='bilinear', align_corners=False)
        return out.view(batch, num_tasks, channels, height, width), (scores, grid)


class UPTransformerBlock(nn.Module):
    """Pre-norm transformer block over the tokens of all tasks at one scale.

    ``x + attn(LN(x))`` then ``x + MLP(LN(x))``; LayerNorm and MLP are
    shared by the tasks (they act per token).

    Args:
        num_tasks: Number of tasks ``T``.
        channels: Channels ``C`` per task.
        num_heads: Attention heads.
        kv_stride: Key / value pooling stride (see
            :class:`CrossScaleSelfAttention`).
        fuse_previous: Fuse the previous stage's attention scores.
        mlp_ratio: Hidden width of the MLP over ``C``.
        qkv_bias: Bias of the query / key / value projections.
        drop_path: Stochastic depth rate of both residual branches.
        norm_cfg: Norm of the query convolution.
    """

    def __init__(self,
                 num_tasks: int,
                 channels: int,
                 num_heads: int,
                 kv_stride: int,
                 fuse_previous: bool = False,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path: float = 0.,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(channels)
        self.attn = CrossScaleSelfAttention(
            num_tasks, channels, num_heads, kv_stride, qkv_bias=qkv_bias,
            fuse_previous=fuse_previous, norm_cfg=norm_cfg)
        self.norm2 = nn.LayerNorm(channels)
        hidden = int(channels * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, channels))
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    @staticmethod
    def _channels_last(x: Tensor) -> Tensor:
        return x.permute(0, 1, 3, 4, 2)

    def forward(self, x: Tensor, prev: Optional[Tuple[Tensor, Tuple[int, int]]] = None
                ) -> Tuple[Tensor, Tuple[Tensor, Tuple[int, int]]]:
        """x: (N, T, C, H, W) -> (N, T, C, H, W) and the attention message."""
        normed = self.norm1(self._channels_last(x)).permute(0, 1, 4, 2, 3)
        attn, message = self.attn(normed, prev)
        x = self._channels_last(x + self.drop_path(attn))
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x.permute(0, 1, 4, 2, 3).contiguous(), message
