"""The interface every multi-task decoder implements."""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmmtl.registry import MODELS
from mmmtl.tasks import check_tasks

TaskLogits = Dict[str, Tensor]
AuxLogits = Dict[str, TaskLogits]


class BaseMultiTaskDecoder(BaseModule, metaclass=ABCMeta):
    """Features of a shared backbone (+ neck) -> ``{task: logits}``.

    A multi-task model is ``backbone (+ neck) + one decoder``. The decoder may
    let tasks exchange information (ATRC, DeMT, InvPT) or keep them apart
    (:class:`IndependentHeadsDecoder`). Besides the final logits it may return
    auxiliary predictions (initial task predictions, multi-scale outputs),
    each supervised with the task's loss times ``aux_loss_weights[name]``.

    Subclasses implement :meth:`forward_with_aux` and either pass
    ``task_losses`` (one loss config per task) or override :meth:`task_loss`.

    Args:
        tasks: Task names, in output order.
        out_channels: ``{task: channels}`` of the final logits.
        task_losses: ``{task: loss config}`` (``loss_weight`` is the task
            weight); a list of configs is summed.
        aux_loss_weights: ``{aux name: weight}`` of the auxiliary outputs;
            an auxiliary output whose name is missing gets weight 1.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 out_channels: Dict[str, int],
                 task_losses: Optional[Dict[str, Union[dict, List[dict]]]] = None,
                 aux_loss_weights: Optional[Dict[str, float]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self._tasks = check_tasks(tasks, owner=type(self).__name__)
        missing = [task for task in self._tasks if task not in out_channels]
        if missing:
            raise KeyError(f'{type(self).__name__}: out_channels has no entry for tasks '
                           f'{missing}.')
        self.out_channels = {task: int(out_channels[task]) for task in self._tasks}
        self.aux_loss_weights = dict(aux_loss_weights or {})
        if task_losses is not None:
            unknown = set(task_losses) - set(self._tasks)
            if unknown:
                raise KeyError(f'{type(self).__name__}: task_losses names tasks '
                               f'{sorted(unknown)} that are not among {self._tasks}.')
            missing = [task for task in self._tasks if task not in task_losses]
            if missing:
                raise KeyError(f'{type(self).__name__}: task_losses has no loss for tasks '
                               f'{missing}.')
            self.task_losses = nn.ModuleDict(
                {task: build_task_loss(task, task_losses[task]) for task in self._tasks})

    @property
    def tasks(self) -> List[str]:
        return list(self._tasks)

    @abstractmethod
    def forward_with_aux(self, feats: Sequence[Tensor]) -> Tuple[TaskLogits, AuxLogits]:
        """Backbone (+ neck) features -> (final logits, auxiliary logits).

        Returns:
            ``{task: (N, C_task, h, w)}`` final logits at the decoder's output
            resolution (the segmentor resizes them to the input size), and
            ``{aux name: {task: (N, C_task, h', w')}}`` (empty if none).
        """

    def forward(self, feats: Sequence[Tensor]) -> TaskLogits:
        """Final logits only (see :meth:`forward_with_aux`)."""
        return self.forward_with_aux(feats)[0]

    def task_loss(self, task: str, logits: Tensor, target: Tensor) -> Tensor:
        """Weighted loss of ``task``: logits (N, C, H, W), target (N, k, H, W)."""
        return self.task_losses[task](logits, target)

    def aux_loss_weight(self, name: str) -> float:
        return float(self.aux_loss_weights.get(name, 1.0))

    def aux_task_loss(self, name: str, task: str, logits: Tensor, target: Tensor) -> Tensor:
        """Weighted loss of auxiliary output ``name`` of ``task``.

        Default: the task's own loss times ``aux_loss_weights[name]``. Decoders
        whose auxiliary outputs differ from the final ones (e.g. ATRC's depth
        bins) override it.
        """
        loss = self.task_loss(task, logits, target)
        weight = self.aux_loss_weight(name)
        return loss if weight == 1 else weight * loss


def build_task_loss(task: str, loss_cfg: Union[dict, List[dict]]) -> nn.Module:
    """Build the loss of ``task`` from a config (or a list, summed)."""
    from mmmtl.models.losses.task_loss import TaskLoss
    return TaskLoss(task, loss_cfg)


def fill_in_channels(decoder_cfg: dict, in_channels: Optional[Union[int, List[int]]]) -> dict:
    """Set ``in_channels`` of a decoder config that omits it (from the neck)."""
    decoder_cfg = dict(decoder_cfg)
    if 'in_channels' not in decoder_cfg and in_channels is not None:
        decoder_cfg['in_channels'] = in_channels
    return decoder_cfg


def build_decoder(cfg: dict) -> 'BaseMultiTaskDecoder':
    decoder = MODELS.build(cfg)
    if not isinstance(decoder, BaseMultiTaskDecoder):
        raise TypeError(f'decoder {cfg.get("type")!r} is a {type(decoder).__name__}, not a '
                        'BaseMultiTaskDecoder (it must map features to {task: logits}).')
    return decoder
