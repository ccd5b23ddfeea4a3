"""ATRC: Adaptive Task-Relational Context (Bruggemann et al., ICCV 2021)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import ModuleDict
from torch import Tensor

from mmmtl.registry import MODELS

from ..layers.context_attention import CONTEXT_TYPES, build_context_attention, spatial_softmax
from .base_decoder import AuxLogits, BaseMultiTaskDecoder, TaskLogits, build_task_loss

AUX_NAME = 'initial'


def check_contexts(contexts: Dict[str, Dict[str, str]], tasks: Sequence[str]) -> None:
    """Raise a clear error unless ``contexts`` is a full ``target -> {source: type}`` table."""
    tasks = list(tasks)
    if set(contexts) != set(tasks):
        raise KeyError(f'ATRCDecoder: contexts must have one row per task {tasks}; got rows '
                       f'{list(contexts)} (missing {sorted(set(tasks) - set(contexts))}, '
                       f'unknown {sorted(set(contexts) - set(tasks))}).')
    for target in tasks:
        row = contexts[target]
        if set(row) != set(tasks):
            raise KeyError(f'ATRCDecoder: contexts[{target!r}] must name every source task '
                           f'{tasks}; got {list(row)} (missing {sorted(set(tasks) - set(row))}, '
                           f'unknown {sorted(set(row) - set(tasks))}).')
        for source, kind in row.items():
            if kind not in CONTEXT_TYPES:
                raise ValueError(f'ATRCDecoder: contexts[{target!r}][{source!r}] = {kind!r} is '
                                 f'not a context type; choose from {CONTEXT_TYPES}.')


def guiding_tasks(contexts: Dict[str, Dict[str, str]]) -> List[str]:
    """Tasks whose initial prediction some label context needs, in row order.

    A task guides the ``tlabel`` contexts of its own row and the ``slabel``
    contexts in which it is the source.
    """
    tasks = list(contexts)
    return [
        task for task in tasks
        if any(contexts[task][source] == 'tlabel' for source in tasks) or any(
            contexts[target][task] == 'slabel' for target in tasks)
    ]


@MODELS.register_module()
class ATRCDecoder(BaseMultiTaskDecoder):
    """ATRC multi-task decoder: task features refined by searched cross-task contexts.

    On the shared map (the concatenated HRNet branches of
    :class:`MultiScaleConcatNeck`, ``C_in`` channels at stride 4):

    1. per task, a 3x3 conv-BN-ReLU to ``channels`` (``C_in // 4``) channels;
    2. initial predictions of the tasks that guide a label context: 1x1
       conv-BN-ReLU (``C_in``) then a 1x1 conv to ``aux_channels[task]``, on
       the *detached* shared map (their loss does not reach the backbone);
       returned as auxiliary output ``'initial'`` and supervised with
       ``aux_losses`` (ATRC: depth as 40 log bins, normals as 40 clusters,
       edge / saliency as 2 classes);
    3. per target task, one context propagation (CP) block per source task
       whose context type is not ``none`` (``attention_channels`` each,
       ``channels // 2``); their concatenation is projected back to
       ``channels`` (1x1 conv-BN, zero-initialised BN), concatenated with the
       task's features, fused by a 1x1 conv-BN-ReLU and dropout;
    4. a 1x1 conv to the task's ``out_channels``.

    Args:
        out_channels: ``{task: channels}`` of the final logits; its order is
            the task order.
        contexts: ``{target: {source: context type}}`` with one row per task
            and one entry per source task; types ``'global'``, ``'local'``,
            ``'tlabel'``, ``'slabel'``, ``'none'``. ATRC's searched choices
            are in ``configs/_base_/models/atrc_{nyud,pascal}.py``.
        task_losses: ``{task: loss config}`` of the final logits.
        aux_channels: ``{task: channels}`` of the initial predictions; needed
            for every task that guides a label context.
        aux_losses: ``{task: loss config}`` of the initial predictions (their
            ``loss_weight`` is the task weight, as for the final ones).
        in_channels: Channels of the shared map (filled in from the neck).
        channels: Task feature channels; default ``in_channels // 4``.
        attention_channels: Channels of each CP block; default ``channels // 2``.
        local_kernel_size: Window of ``local`` contexts (ATRC: 9).
        dropout_ratio: Dropout2d after the fusion (ATRC: 0.05).
        detach_initial: Stop the initial predictions' gradients at the
            shared map (ATRC does).
        in_index: Which input map to read.
        norm_cfg: Norm layer (``SyncBN`` in multi-GPU configs).
        act_cfg: Activation.
        aux_loss_weights: ``{'initial': w}``; default 1 (ATRC sums them with
            the final losses).
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 out_channels: Dict[str, int],
                 contexts: Dict[str, Dict[str, str]],
                 task_losses: Dict[str, Union[dict, List[dict]]],
                 aux_channels: Optional[Dict[str, int]] = None,
                 aux_losses: Optional[Dict[str, Union[dict, List[dict]]]] = None,
                 in_channels: Optional[Union[int, List[int]]] = None,
                 channels: Optional[int] = None,
                 attention_channels: Optional[int] = None,
                 local_kernel_size: int = 9,
                 dropout_ratio: float = 0.05,
                 detach_initial: bool = True,
                 in_index: int = 0,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 act_cfg: dict = dict(type='ReLU'),
                 aux_loss_weights: Optional[Dict[str, float]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        tasks = list(out_channels)
        super().__init__(tasks=tasks, out_channels=out_channels, task_losses=task_losses,
                         aux_loss_weights=aux_loss_weights, init_cfg=init_cfg)
        if in_channels is None:
            raise KeyError('ATRCDecoder: in_channels is not set and the neck does not tell its '
                           'out_channels; state it in the decoder config.')
        if isinstance(in_channels, (list, tuple)):
            in_channels = in_channels[in_index]
        unknown = set(aux_loss_weights or {}) - {AUX_NAME}
        if unknown:
            raise KeyError(f'ATRCDecoder: aux_loss_weights names {sorted(unknown)}; its only '
                           f'auxiliary output is {AUX_NAME!r}.')
        check_contexts(contexts, tasks)
        self.contexts = {target: dict(contexts[target]) for target in tasks}
        self.guiding_tasks = guiding_tasks(self.contexts)
        aux_channels, aux_losses = dict(aux_channels or {}), dict(aux_losses or {})
        for name, table in (('aux_channels', aux_channels), ('aux_losses', aux_losses)):
            missing = [task for task in self.guiding_tasks if task not in table]
            if missing:
                raise KeyError(f'ATRCDecoder: {name} has no entry for {missing}, whose initial '
                               'predictions guide label contexts (tlabel / slabel).')
            unknown = sorted(set(table) - set(tasks))
            if unknown:
                raise KeyError(f'ATRCDecoder: {name} names tasks {unknown} that are not among '
                               f'{tasks}.')

        self.in_channels = int(in_channels)
        self.channels = int(channels or self.in_channels // 4)
        self.attention_channels = int(attention_channels or self.channels // 2)
        self.in_index = in_index
        self.detach_initial = detach_initial
        self.aux_channels = {task: int(aux_channels[task]) for task in self.guiding_tasks}

        self.task_convs = ModuleDict({
            task: ConvModule(self.in_channels, self.channels, 3, padding=1, norm_cfg=norm_cfg,
                             act_cfg=act_cfg)
            for task in tasks
        })
        self.initial_convs = ModuleDict({
            task: ConvModule(self.in_channels, self.in_channels, 1, norm_cfg=norm_cfg,
                             act_cfg=act_cfg)
            for task in self.guiding_tasks
        })
        self.initial_logits = ModuleDict({
            task: nn.Conv2d(self.in_channels, self.aux_channels[task], 1)
            for task in self.guiding_tasks
        })
        self.aux_losses = nn.ModuleDict(
            {task: build_task_loss(task, aux_losses[task]) for task in self.guiding_tasks})

        self.cp_blocks = ModuleDict()
        self.cp_projections = ModuleDict()
        self.fusions = ModuleDict()
        for target in tasks:
            blocks = ModuleDict()
            for source in tasks:
                block = build_context_attention(self.contexts[target][source], self.channels,
                                                self.attention_channels, local_kernel_size,
                                                norm_cfg=norm_cfg, act_cfg=act_cfg)
                if block is not None:
                    blocks[source] = block
            self.cp_blocks[target] = blocks
            if len(blocks):
                self.cp_projections[target] = ConvModule(
                    self.attention_channels * len(blocks), self.channels, 1, norm_cfg=norm_cfg,
                    act_cfg=None)
            fused_in = self.channels * (2 if len(blocks) else 1)
            self.fusions[target] = nn.Sequential(
                ConvModule(fused_in, self.channels, 1, norm_cfg=norm_cfg, act_cfg=act_cfg),
                nn.Dropout2d(dropout_ratio))
        self.final_logits = ModuleDict(
            {task: nn.Conv2d(self.channels, self.out_channels[task], 1) for task in tasks})
        self._init_atrc_weights()

    def _init_atrc_weights(self) -> None:
        """Logits ~ N(0, 0.01), bias 0; CP projections' BN at zero (identity at start)."""
        for conv in list(self.initial_logits.values()) + list(self.final_logits.values()):
            nn.init.normal_(conv.weight, mean=0., std=0.01)
            nn.init.zeros_(conv.bias)
        for projection in self.cp_projections.values():
            nn.init.zeros_(projection.norm.weight)
            nn.init.zeros_(projection.norm.bias)

    def init_weights(self) -> None:
        initialised = self._is_init
        super().init_weights()  # ConvModules re-initialise (Kaiming, BN at 1)
        if not initialised and not self.init_cfg:
            self._init_atrc_weights()

    def initial_predictions(self, feat: Tensor) -> TaskLogits:
        """(N, C_in, h, w) -> ``{guiding task: (N, aux_channels, h, w)}``."""
        if self.detach_initial:
            feat = feat.detach()
        return {
            task: self.initial_logits[task](self.initial_convs[task](feat))
            for task in self.guiding_tasks
        }

    def propagate(self, task_feats: TaskLogits, initial: TaskLogits) -> TaskLogits:
        """Cross-task context propagation: ``{task: (N, channels, h, w)}`` refined."""
        probs = {task: spatial_softmax(logits) for task, logits in initial.items()}
        refined = {}
        for target in self.tasks:
            blocks = self.cp_blocks[target]
            feat = task_feats[target]
            if len(blocks):
                contexts = [
                    block(feat, task_feats[source], probs.get(target), probs.get(source))
                    for source, block in blocks.items()
                ]
                feat = torch.cat([feat, self.cp_projections[target](torch.cat(contexts, 1))], 1)
            refined[target] = self.fusions[target](feat)
        return refined

    def forward_with_aux(self, feats: Sequence[Tensor]) -> Tuple[TaskLogits, AuxLogits]:
        """feats[in_index]: (N, C_in, h, w) -> final ``{task: (N, C_task, h, w)}`` and
        ``{'initial': {guiding task: (N, aux_channels, h, w)}}``."""
        feat = feats[self.in_index]
        if feat.shape[1] != self.in_channels:
            raise ValueError(f'ATRCDecoder: the input map has {feat.shape[1]} channels, '
                             f'in_channels is {self.in_channels}.')
        task_feats = {task: self.task_convs[task](feat) for task in self.tasks}
        initial = self.initial_predictions(feat)
        refined = self.propagate(task_feats, initial)
        final = {task: self.final_logits[task](refined[task]) for task in self.tasks}
        return final, ({AUX_NAME: initial} if initial else {})

    def aux_task_loss(self, name: str, task: str, logits: Tensor, target: Tensor) -> Tensor:
        """Loss of an initial prediction (its own loss, times ``aux_loss_weights``)."""
        loss = self.aux_losses[task](logits, target)
        weight = self.aux_loss_weight(name)
        return loss if weight == 1 else weight * loss
