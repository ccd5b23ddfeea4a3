"""Cross-task context propagation (CP) blocks of ATRC (Bruggemann et al., ICCV 2021).

A CP block refines a *target* task's features with context gathered from a
*source* task's features. The four context types differ in where the keys
and values come from:

- ``global``: every source position (linear attention with softplus kernels);
- ``local``: the ``k x k`` window of source positions around each target
  position (scaled dot-product attention, zero padding at the borders);
- ``tlabel``: one region per class of the *target* task's initial prediction
  (source features pooled with that prediction's spatial softmax);
- ``slabel``: the same with the *source* task's initial prediction.

Every block maps target (N, C, H, W) and source (N, C, H, W) features to
(N, C_att, H, W). The pure attention functions are exposed for testing.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

CONTEXT_TYPES = ('none', 'global', 'local', 'tlabel', 'slabel')


def linear_attention(query: Tensor, key: Tensor, value: Tensor, eps: float = 1e-12) -> Tensor:
    """Normalised linear attention over all positions.

    ``out[:, :, p] = sum_j value[:, :, j] <key_j, query_p> / sum_j <key_j, query_p>``.

    Args:
        query: (N, D, P) non-negative target features.
        key: (N, D, Q) non-negative source features.
        value: (N, M, Q).

    Returns:
        (N, M, P).
    """
    summary = torch.matmul(value, key.transpose(1, 2))  # (N, M, D)
    normaliser = torch.matmul(key.sum(dim=2, keepdim=True).transpose(1, 2), query)  # (N, 1, P)
    return torch.matmul(summary, query) / normaliser.clamp(min=eps)


def local_window_attention(query: Tensor, key: Tensor, value: Tensor,
                           kernel_size: int) -> Tensor:
    """Scaled dot-product attention over the ``k x k`` window around each position.

    Positions outside the map count as zero keys and values: their similarity
    is 0 (they still take part in the softmax) and they add nothing.

    Args:
        query, key: (N, D, H, W).
        value: (N, M, H, W).
        kernel_size: Odd window size ``k``.

    Returns:
        (N, M, H, W).
    """
    if kernel_size % 2 != 1:
        raise ValueError(f'local_window_attention: kernel_size must be odd, got {kernel_size}.')
    batch, dims, height, width = key.shape
    pad = kernel_size // 2
    window = kernel_size * kernel_size
    keys = F.unfold(key, kernel_size, padding=pad).view(batch, dims, window, height, width)
    similarity = torch.einsum('ndhw,ndkhw->nkhw', query, keys) / math.sqrt(dims)
    weights = similarity.softmax(dim=1)
    values = F.unfold(value, kernel_size, padding=pad).view(batch, value.shape[1], window,
                                                            height, width)
    return torch.einsum('nkhw,nmkhw->nmhw', weights, values)


def spatial_softmax(logits: Tensor) -> Tensor:
    """(N, K, H, W) logits -> (N, K, H*W): per class, a distribution over positions."""
    return logits.flatten(2).softmax(dim=2)


def region_context(region_probs: Tensor, feats: Tensor) -> Tensor:
    """Pool ``feats`` into one vector per class region.

    Args:
        region_probs: (N, K, H*W) spatial distributions (see :func:`spatial_softmax`).
        feats: (N, C, H, W).

    Returns:
        (N, C, K, 1): the ``K`` region features as a K x 1 map, ready for 1x1 convs.
    """
    pooled = torch.matmul(region_probs, feats.flatten(2).transpose(1, 2))  # (N, K, C)
    return pooled.transpose(1, 2).unsqueeze(3).contiguous()


def dot_product_attention(query: Tensor, key: Tensor, value: Tensor) -> Tensor:
    """softmax(q^T k / sqrt(D)) v over all keys.

    Args:
        query: (N, D, P); key: (N, D, Q); value: (N, M, Q).

    Returns:
        (N, M, P).
    """
    similarity = torch.matmul(query.transpose(1, 2), key) / math.sqrt(query.shape[1])
    return torch.matmul(value, similarity.softmax(dim=2).transpose(1, 2))


class _ContextAttention(BaseModule):
    """Query / key / value projections shared by all CP blocks.

    Query and key: two 1x1 conv-BN layers (ReLU after the first; after the
    second a ReLU, or a softplus for ``non_negative='softplus'``). Value: one
    1x1 conv-BN-ReLU. Convolutions get Xavier-uniform weights.

    Args:
        in_channels: Channels of the task features.
        channels: Attention channels (of query, key and value).
        norm_cfg: Norm layer.
        act_cfg: Activation.
        last_act: Activation after the second query / key layer: ``'relu'``
            or ``'softplus'`` (kernel feature map of linear attention).
    """

    def __init__(self, in_channels: int, channels: int, norm_cfg: dict, act_cfg: dict,
                 last_act: str = 'relu') -> None:
        super().__init__()
        if last_act not in ('relu', 'softplus'):
            raise ValueError(f'last_act must be relu or softplus, got {last_act!r}.')
        self.in_channels = in_channels
        self.channels = channels

        def projection() -> nn.Sequential:
            layers = [
                ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
                ConvModule(channels, channels, 1, norm_cfg=norm_cfg,
                           act_cfg=act_cfg if last_act == 'relu' else None),
            ]
            if last_act == 'softplus':
                layers.append(nn.Softplus())
            return nn.Sequential(*layers)

        self.query_project = projection()
        self.key_project = projection()
        self.value_project = ConvModule(in_channels, channels, 1, norm_cfg=norm_cfg,
                                        act_cfg=act_cfg)
        self._xavier_init()

    def _xavier_init(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def init_weights(self) -> None:
        super().init_weights()  # ConvModule re-initialises its conv (Kaiming)
        self._xavier_init()


class GlobalContextAttention(_ContextAttention):
    """``global`` context: linear attention over every source position."""

    def __init__(self, in_channels: int, channels: int,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'), eps: float = 1e-12) -> None:
        super().__init__(in_channels, channels, norm_cfg, act_cfg, last_act='softplus')
        self.eps = eps

    def forward(self, target: Tensor, source: Tensor, target_probs: Optional[Tensor] = None,
                source_probs: Optional[Tensor] = None) -> Tensor:
        """target, source: (N, C, H, W) -> (N, C_att, H, W)."""
        query = self.query_project(target).flatten(2)
        key = self.key_project(source).flatten(2)
        value = self.value_project(source).flatten(2)
        return linear_attention(query, key, value, self.eps).view(
            target.shape[0], self.channels, *target.shape[2:])


class LocalContextAttention(_ContextAttention):
    """``local`` context: attention over the ``kernel_size`` window of source positions."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int = 9,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU')) -> None:
        super().__init__(in_channels, channels, norm_cfg, act_cfg)
        if kernel_size % 2 != 1:
            raise ValueError(f'LocalContextAttention: kernel_size must be odd, got '
                             f'{kernel_size}.')
        self.kernel_size = kernel_size

    def forward(self, target: Tensor, source: Tensor, target_probs: Optional[Tensor] = None,
                source_probs: Optional[Tensor] = None) -> Tensor:
        """target, source: (N, C, H, W) -> (N, C_att, H, W)."""
        return local_window_attention(self.query_project(target), self.key_project(source),
                                      self.value_project(source), self.kernel_size)


class LabelContextAttention(_ContextAttention):
    """``tlabel`` / ``slabel`` context: attention over class regions of the source features.

    The regions are the classes of the target task's (``tlabel``) or the
    source task's (``slabel``) initial prediction, as spatial distributions
    ``(N, K, H*W)`` (:func:`spatial_softmax`).
    """

    def __init__(self, in_channels: int, channels: int, guide: str,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU')) -> None:
        super().__init__(in_channels, channels, norm_cfg, act_cfg)
        if guide not in ('target', 'source'):
            raise ValueError(f"LabelContextAttention: guide must be 'target' (tlabel) or "
                             f"'source' (slabel), got {guide!r}.")
        self.guide = guide

    def forward(self, target: Tensor, source: Tensor, target_probs: Optional[Tensor] = None,
                source_probs: Optional[Tensor] = None) -> Tensor:
        """target, source: (N, C, H, W); *_probs: (N, K, H*W) -> (N, C_att, H, W)."""
        probs = target_probs if self.guide == 'target' else source_probs
        if probs is None:
            raise ValueError(f'LabelContextAttention(guide={self.guide!r}) needs the '
                             f'{self.guide} task\'s initial prediction.')
        regions = region_context(probs, source)  # (N, C, K, 1)
        key = self.key_project(regions).flatten(2)
        value = self.value_project(regions).flatten(2)
        query = self.query_project(target).flatten(2)
        return dot_product_attention(query, key, value).view(
            target.shape[0], self.channels, *target.shape[2:])


def build_context_attention(context_type: str, in_channels: int, channels: int,
                            local_kernel_size: int = 9,
                            norm_cfg: dict = dict(type='BN', requires_grad=True),
                            act_cfg: dict = dict(type='ReLU')) -> Optional[nn.Module]:
    """The CP block of ``context_type`` (None for ``'none'``)."""
    if context_type == 'none':
        return None
    if context_type == 'global':
        return GlobalContextAttention(in_channels, channels, norm_cfg=norm_cfg, act_cfg=act_cfg)
    if context_type == 'local':
        return LocalContextAttention(in_channels, channels, local_kernel_size,
                                     norm_cfg=norm_cfg, act_cfg=act_cfg)
    if context_type in ('tlabel', 'slabel'):
        return LabelContextAttention(in_channels, channels,
                                     'target' if context_type == 'tlabel' else 'source',
                                     norm_cfg=norm_cfg, act_cfg=act_cfg)
    raise ValueError(f'Unknown context type {context_type!r}; choose from {CONTEXT_TYPES}.')
