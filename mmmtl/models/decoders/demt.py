"""DeMT (Xu, Yang, Zhang, AAAI 2023): deformable mixer + task-aware transformer decoder."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from torch import Tensor

from mmmtl.registry import MODELS

from ..layers import DeformableMixer, TaskInteractionBlock, TaskQueryBlock
from .base_decoder import AuxLogits, BaseMultiTaskDecoder, TaskLogits


@MODELS.register_module()
class DeMTDecoder(BaseMultiTaskDecoder):
    """DeMT: Deformable Mixer Transformer for multi-task dense prediction.

    On the stride-4 concatenation of the backbone outputs
    (:class:`MultiScaleConcatNeck`, C_in channels):

    1. a per-pixel Linear -> LayerNorm projects C_in to ``embed_dims`` (d);
    2. deformable mixer encoder: one :class:`DeformableMixer` per task gives
       the task's deformed features;
    3. task interaction block: self-attention across the T tasks' deformed
       features of every pixel, then Linear -> LayerNorm (task-interacted
       features);
    4. task query block, per task: its deformed features query the
       task-interacted features (attention, Linear -> LayerNorm, residual);
    5. per task a 3x3 conv (no bias) -> norm -> ReLU to ``bottleneck_channels``
       and a 1x1 conv to the task's channels.

    No auxiliary outputs: the authors supervise the final predictions only.

    Attention runs across the T task tokens of each pixel. In the authors'
    released code, ``nn.MultiheadAttention`` receives (N, L, C) tensors in its
    sequence-first layout; with their one image per GPU the task query block
    computes exactly this per-pixel attention over the tasks, and the task
    interaction block (a sequence of one image) reduces to its value and
    output projections. By default we keep the paper's self-attention across
    tasks in the interaction block, which is independent of the batch;
    parameters are the same. ``interaction_across_tasks=False`` computes the
    authors' one-image forward instead (the ``*_released.py`` configs, for
    their weights). Their code's output for an image also depends on the
    other images of its batch (both blocks attend across the batch); mmmtl
    computes every image as if alone, i.e. as the authors' test with one
    image per GPU.

    Args:
        tasks: Task names, in output order.
        out_channels: ``{task: channels}`` of the logits.
        task_losses: ``{task: loss config}`` (``loss_weight`` = task weight).
        in_channels: Channels C_in of the input map (filled in from the neck).
        embed_dims: d (256 for Swin backbones; 128 gives the authors'
            HRNet18 size).
        num_heads: Attention heads.
        mixer_depth: Deformable mixer layers per task.
        offset_window: Neighbourhood side of the deformable offset predictor.
        bottleneck_channels: Hidden channels of the prediction heads;
            ``None`` = C_in // 8 as the authors.
        norm_cfg: Norm of the mixers and heads (``SyncBN`` on several GPUs).
        in_index: Which input map to read.
        interaction_across_tasks: ``False``: the task interaction block as
            the authors' code computes it for one image (every token attends
            to itself only: the value and output projections); see
            :class:`TaskInteractionBlock`.
        aux_loss_weights: Unused (no auxiliary outputs), kept for the
            interface.
        init_cfg: Initialisation (logits: normal, std 0.01, zero bias).

    Shapes: feats[in_index] (N, C_in, H, W) -> ``{task: (N, C_task, H, W)}``.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 out_channels: Dict[str, int],
                 task_losses: Dict[str, Union[dict, List[dict]]],
                 in_channels: int,
                 embed_dims: int = 256,
                 num_heads: int = 4,
                 mixer_depth: int = 1,
                 offset_window: int = 3,
                 bottleneck_channels: Optional[int] = None,
                 norm_cfg: Optional[dict] = None,
                 in_index: int = 0,
                 interaction_across_tasks: bool = True,
                 aux_loss_weights: Optional[Dict[str, float]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = dict(
                     type='Normal', std=0.01, override=dict(name='logits'))) -> None:
        super().__init__(tasks=tasks, out_channels=out_channels, task_losses=task_losses,
                         aux_loss_weights=aux_loss_weights, init_cfg=init_cfg)
        if not isinstance(in_channels, int):
            raise TypeError(f'DeMTDecoder reads one map and needs in_channels as an int, got '
                            f'{in_channels!r}: put a MultiScaleConcatNeck in front of it.')
        norm_cfg = norm_cfg or dict(type='BN', requires_grad=True)
        bottleneck_channels = bottleneck_channels or in_channels // 8
        self.in_channels = in_channels
        self.embed_dims = embed_dims
        self.in_index = in_index
        self.input_proj = nn.Sequential(nn.Linear(in_channels, embed_dims),
                                        nn.LayerNorm(embed_dims))
        self.mixers = nn.ModuleDict({
            task: DeformableMixer(embed_dims, depth=mixer_depth, window=offset_window,
                                  norm_cfg=norm_cfg)
            for task in self.tasks
        })
        self.interaction = TaskInteractionBlock(embed_dims, num_heads,
                                                across_tasks=interaction_across_tasks)
        self.task_queries = nn.ModuleDict(
            {task: TaskQueryBlock(embed_dims, num_heads)
             for task in self.tasks})
        self.bottlenecks = nn.ModuleDict({
            task: ConvModule(embed_dims, bottleneck_channels, 3, padding=1, bias=False,
                             norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
            for task in self.tasks
        })
        self.logits = nn.ModuleDict({
            task: nn.Conv2d(bottleneck_channels, self.out_channels[task], 1)
            for task in self.tasks
        })

    def forward_with_aux(self, feats: Sequence[Tensor]) -> Tuple[TaskLogits, AuxLogits]:
        """feats[in_index]: (N, C_in, H, W) -> ({task: (N, C_task, H, W)}, {})."""
        x = feats[self.in_index]
        if x.shape[1] != self.in_channels:
            raise ValueError(f'DeMTDecoder: the input map has {x.shape[1]} channels, '
                             f'in_channels says {self.in_channels}.')
        batch, _, height, width = x.shape
        x = self.input_proj(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        # (N, d, H, W) per task -> one sequence of T task tokens per pixel
        deformed = torch.stack([self.mixers[task](x) for task in self.tasks], dim=1)
        tokens = deformed.permute(0, 3, 4, 1, 2).reshape(-1, len(self.tasks), self.embed_dims)
        interacted = self.interaction(tokens)
        logits = {}
        for index, task in enumerate(self.tasks):
            queried = self.task_queries[task](tokens[:, index:index + 1], interacted)
            task_map = queried.view(batch, height, width, self.embed_dims).permute(0, 3, 1, 2)
            logits[task] = self.logits[task](self.bottlenecks[task](task_map))
        return logits, {}
