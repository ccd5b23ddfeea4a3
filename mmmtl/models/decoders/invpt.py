"""InvPT: Inverted Pyramid Multi-task Transformer (Ye and Xu, ECCV 2022)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor

from mmmtl.registry import MODELS

from ..layers.up_transformer import UPTransformerBlock
from .base_decoder import AuxLogits, BaseMultiTaskDecoder, TaskLogits


def _up_embed(in_channels: int, out_channels: int, norm_cfg: dict) -> nn.Sequential:
    """x2 bilinear upsampling, then two dilated 3x3 conv-BN-ReLU (same size)."""
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False),
        ConvModule(in_channels, out_channels, 3, padding=2, dilation=2, bias=False,
                   norm_cfg=norm_cfg),
        ConvModule(out_channels, out_channels, 3, padding=2, dilation=2, bias=False,
                   norm_cfg=norm_cfg))


@MODELS.register_module()
class InvPTDecoder(BaseMultiTaskDecoder):
    """The InvPT multi-task decoder.

    1. **Preliminary decoder.** The deepest backbone map, resized to
       ``1 / input_downsample`` of its size (stride 32 for ViT and Swin),
       goes through two 3x3 conv-BN-ReLU per task (``in -> in ->
       prelim_channels``); a 1x1 conv gives the task's initial prediction,
       the auxiliary output ``'inter'``. Features and prediction are
       concatenated and projected (1x1) to ``channels``.
    2. **UP-Transformer stages** (inverted pyramid). Stage ``i`` works at
       twice the resolution of stage ``i - 1`` with half its channels
       (``channels / 2**i``). Every stage after the first upsamples each
       task's map (bilinear x2, two dilated 3x3 conv-BN-ReLU); a backbone
       map, projected to the stage's channels (3x3 conv, or a stride-2
       transposed conv when it is at half the stage's resolution), is added
       to every task (encoder feature aggregation). Then one
       :class:`UPTransformerBlock` attends jointly over all tasks' tokens,
       fusing the previous stage's attention scores (message passing).
    3. **Multi-scale fusion.** Each stage's output is layer-normalised over
       the channels of all tasks, projected per task to ``channels`` (1x1,
       stages after the first), resized to twice the last stage's
       resolution (stride 4) and summed over stages. Per task a 3x3
       conv-BN-ReLU and a 1x1 conv give the final logits.

    Args:
        out_channels: ``{task: channels}`` of the logits, in task order.
        in_channels: Channels of every backbone output.
        task_losses: ``{task: loss config}`` (or a list, summed); also
            applied to the auxiliary predictions.
        in_index: Backbone output read by the preliminary decoder.
        input_downsample: The preliminary decoder runs at the size of that
            output divided by this (2 for ViT's stride 16, 1 for Swin's 32).
        prelim_channels: Output channels of the preliminary decoder (512).
        channels: Channels of the first UP stage (512 + 64 = 576 in the
            authors' models), halved at every later stage.
        num_heads: Attention heads per stage; its length is the number of
            stages.
        kv_strides: Key / value pooling stride per stage; must double from
            stage to stage (the resolution does), so that the attention
            message of one stage fits the next.
        skips: Per stage ``None`` or ``dict(in_index=i, upsample=False)``:
            the backbone output added to that stage (``upsample=True``: a
            stride-2 transposed conv). A projected map whose size differs
            from the stage's is resized bilinearly.
        mlp_ratio: MLP width of the blocks.
        qkv_bias: Bias of the attention projections.
        drop_path_rate: Stochastic depth of every block (the authors' 0.15
            over one block per stage amounts to 0 by their linspace rule).
        norm_cfg: Norm of the conv layers (``SyncBN`` on several GPUs).
        aux_loss_weights: Weight of the auxiliary loss (``'inter'``); the
            authors add it with the task's own weight, i.e. 1.
        tasks: Task order; defaults to the order of ``out_channels``.
        init_cfg: Initialisation config; ``None`` uses the authors' scheme
            (truncated normal, std 0.02, for the blocks' linear layers and
            the final 3x3 convs).
    """

    AUX_NAME = 'inter'

    def __init__(self,
                 out_channels: Dict[str, int],
                 in_channels: Optional[Sequence[int]] = None,
                 task_losses: Optional[Dict[str, Union[dict, List[dict]]]] = None,
                 in_index: int = -1,
                 input_downsample: int = 1,
                 prelim_channels: int = 512,
                 channels: int = 576,
                 num_heads: Sequence[int] = (2, 2, 2),
                 kv_strides: Sequence[int] = (2, 4, 8),
                 skips: Optional[Sequence[Optional[dict]]] = None,
                 mlp_ratio: float = 4.,
                 qkv_bias: bool = True,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 aux_loss_weights: Optional[Dict[str, float]] = None,
                 tasks: Optional[Sequence[str]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        tasks = list(tasks) if tasks is not None else list(out_channels)
        super().__init__(tasks=tasks, out_channels=out_channels, task_losses=task_losses,
                         aux_loss_weights=aux_loss_weights, init_cfg=init_cfg)
        if task_losses is None:
            raise KeyError('InvPTDecoder needs task_losses ({task: loss config}).')
        if in_channels is None:
            raise KeyError('InvPTDecoder needs in_channels: the channels of every backbone '
                           'output (e.g. [96, 192, 384, 768] for Swin-T).')
        self.in_channels = [int(c) for c in (
            in_channels if isinstance(in_channels, (list, tuple)) else [in_channels])]
        num_stages = len(num_heads)
        if len(kv_strides) != num_stages:
            raise ValueError(f'InvPTDecoder: kv_strides {tuple(kv_strides)} must have one entry '
                             f'per stage (num_heads {tuple(num_heads)}).')
        for prev, cur in zip(kv_strides, kv_strides[1:]):
            if cur != 2 * prev:
                raise ValueError(f'InvPTDecoder: kv_strides {tuple(kv_strides)} must double from '
                                 'stage to stage (the attention message keeps its key count).')
        skips = list(skips) if skips is not None else [None] * num_stages
        if len(skips) != num_stages:
            raise ValueError(f'InvPTDecoder: skips has {len(skips)} entries for {num_stages} '
                             'stages.')
        self.in_index = self._check_index(in_index, 'in_index')
        if input_downsample < 1:
            raise ValueError(f'InvPTDecoder: input_downsample must be >= 1, got '
                             f'{input_downsample}.')
        self.input_downsample = int(input_downsample)
        self.num_stages = num_stages
        self.stage_channels = [channels // 2**i for i in range(num_stages)]
        for i, width in enumerate(self.stage_channels):
            if width * 2**i != channels or width % num_heads[i]:
                raise ValueError(f'InvPTDecoder: channels {channels} must halve exactly over '
                                 f'{num_stages} stages, each divisible by its heads {num_heads}.')
        num_tasks = len(self.tasks)
        in_ch = self.in_channels[self.in_index]

        self.prelim = nn.ModuleDict({
            task: nn.Sequential(
                ConvModule(in_ch, in_ch, 3, padding=1, bias=False, norm_cfg=norm_cfg),
                ConvModule(in_ch, prelim_channels, 3, padding=1, bias=False,
                           norm_cfg=norm_cfg))
            for task in self.tasks
        })
        self.prelim_heads = nn.ModuleDict(
            {task: nn.Conv2d(prelim_channels, self.out_channels[task], 1)
             for task in self.tasks})
        self.mix = nn.ModuleDict({
            task: nn.Conv2d(prelim_channels + self.out_channels[task], channels, 1)
            for task in self.tasks
        })
        self.up_embeds = nn.ModuleList([
            nn.ModuleDict({
                task: _up_embed(self.stage_channels[i - 1], self.stage_channels[i], norm_cfg)
                for task in self.tasks
            }) for i in range(1, num_stages)
        ])
        self.skip_indices: Dict[int, int] = {}
        skip_projs = {}
        for stage, skip in enumerate(skips):
            if skip is None:
                continue
            unknown = set(skip) - {'in_index', 'upsample'}
            if unknown or 'in_index' not in skip:
                raise KeyError(f'InvPTDecoder: skips[{stage}] = {skip!r}; expected '
                               "dict(in_index=<backbone output>, upsample=<bool>).")
            index = self._check_index(skip['in_index'], f'skips[{stage}].in_index')
            self.skip_indices[stage] = index
            width = self.stage_channels[stage]
            if skip.get('upsample', False):
                skip_projs[str(stage)] = nn.ConvTranspose2d(
                    self.in_channels[index], width, 3, stride=2, padding=1, output_padding=1)
            else:
                skip_projs[str(stage)] = nn.Conv2d(self.in_channels[index], width, 3, padding=1)
        self.skip_projs = nn.ModuleDict(skip_projs)
        self.blocks = nn.ModuleList([
            UPTransformerBlock(num_tasks, self.stage_channels[i], num_heads[i], kv_strides[i],
                               fuse_previous=i > 0, mlp_ratio=mlp_ratio, qkv_bias=qkv_bias,
                               drop_path=drop_path_rate, norm_cfg=norm_cfg)
            for i in range(num_stages)
        ])
        self.stage_norms = nn.ModuleList(
            [nn.LayerNorm(num_tasks * width) for width in self.stage_channels])
        self.reduce = nn.ModuleList([
            nn.ModuleDict({task: nn.Conv2d(self.stage_channels[i], channels, 1)
                           for task in self.tasks}) for i in range(1, num_stages)
        ])
        self.fuse_convs = nn.ModuleDict({
            task: ConvModule(channels, channels, 3, padding=1, norm_cfg=norm_cfg)
            for task in self.tasks
        })
        self.heads = nn.ModuleDict(
            {task: nn.Conv2d(channels, self.out_channels[task], 1) for task in self.tasks})

    def _check_index(self, index: int, name: str) -> int:
        count = len(self.in_channels)
        if not -count <= index < count:
            raise IndexError(f'InvPTDecoder: {name}={index} but the backbone has {count} '
                             f'outputs (in_channels {self.in_channels}).')
        return index % count

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_cfg is not None:
            return
        for module in self.blocks.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
        for conv in self.fuse_convs.values():
            trunc_normal_(conv.conv.weight, std=0.02)

    def _check_feats(self, feats: Sequence[Tensor]) -> None:
        if len(feats) != len(self.in_channels):
            raise ValueError(f'InvPTDecoder: got {len(feats)} backbone outputs, in_channels '
                             f'{self.in_channels} has {len(self.in_channels)}.')
        for index, (feat, expected) in enumerate(zip(feats, self.in_channels)):
            if feat.shape[1] != expected:
                raise ValueError(f'InvPTDecoder: backbone output {index} has {feat.shape[1]} '
                                 f'channels, in_channels says {expected}.')

    def _skip(self, stage: int, feats: Sequence[Tensor], size: Tuple[int, int]) -> Tensor:
        skip = self.skip_projs[str(stage)](feats[self.skip_indices[stage]])
        if tuple(skip.shape[2:]) != size:
            skip = F.interpolate(skip, size=size, mode='bilinear', align_corners=False)
        return skip.unsqueeze(1)

    def forward_with_aux(self, feats: Sequence[Tensor]) -> Tuple[TaskLogits, AuxLogits]:
        """Backbone maps -> final ``{task: (N, C_task, 4h, 4w)}`` and
        ``{'inter': {task: (N, C_task, h, w)}}`` (initial predictions), where
        ``h x w`` is the preliminary decoder's size (stride 32)."""
        self._check_feats(feats)
        x = feats[self.in_index]
        size = (x.shape[2] // self.input_downsample, x.shape[3] // self.input_downsample)
        if tuple(x.shape[2:]) != size:
            x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
        inter, mixed = {}, []
        for task in self.tasks:
            task_feat = self.prelim[task](x)
            inter[task] = self.prelim_heads[task](task_feat)
            mixed.append(self.mix[task](torch.cat([task_feat, inter[task]], dim=1)))
        x = torch.stack(mixed, dim=1)  # (N, T, C0, h, w)
        out_size = (size[0] * 2**self.num_stages, size[1] * 2**self.num_stages)
        fused: List[Optional[Tensor]] = [None] * len(self.tasks)
        message = None
        for stage in range(self.num_stages):
            if stage > 0:
                up = self.up_embeds[stage - 1]
                x = torch.stack([up[task](x[:, t]) for t, task in enumerate(self.tasks)], dim=1)
            if stage in self.skip_indices:
                x = x + self._skip(stage, feats, tuple(x.shape[3:]))
            x, message = self.blocks[stage](x, message)
            batch, num_tasks, width, height, wid = x.shape
            normed = self.stage_norms[stage](
                x.permute(0, 3, 4, 1, 2).reshape(batch, height, wid, num_tasks * width))
            normed = normed.view(batch, height, wid, num_tasks, width).permute(0, 3, 4, 1, 2)
            for t, task in enumerate(self.tasks):
                level = normed[:, t]
                if stage > 0:
                    level = self.reduce[stage - 1][task](level)
                level = F.interpolate(level, size=out_size, mode='bilinear', align_corners=False)
                fused[t] = level if fused[t] is None else fused[t] + level
        final = {
            task: self.heads[task](self.fuse_convs[task](fused[t]))
            for t, task in enumerate(self.tasks)
        }
        return final, {self.AUX_NAME: inter}
