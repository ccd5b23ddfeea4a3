from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule

from mmmtl.tasks import IGNORE_INDEX, get_task_spec

from ..losses.task_loss import TaskLoss


def check_out_channels(task: str, out_channels: int) -> None:
    """Raise a ValueError naming ``task`` if ``out_channels`` cannot fit it."""
    get_task_spec(task).check_out_channels(out_channels)


class BaseTaskHead(BaseModule):
    """A light head that predicts one task from (neck or backbone) features.

    Args:
        task: Task name (``semseg``, ``depth``, ...).
        out_channels: Output channels (classes for label tasks).
        loss_decode: Config of the task loss, or a list of configs whose
            losses are summed (see :class:`TaskLoss`). Label tasks take
            mmseg's decode losses (``CrossEntropyLoss``, ``DiceLoss``, ...)
            as in mmseg's decode heads; each loss's ``loss_weight`` is part
            of the task weight.
        in_index: Which input feature map the head reads.
        ignore_index: Ignored label passed to mmseg decode losses.
        sampler: Optional mmseg pixel sampler of label tasks, e.g.
            ``dict(type='OHEMPixelSampler', thresh=0.7, min_kept=10000)``.
        init_cfg: Initialisation config.
    """

    def __init__(self, task: str, out_channels: int, loss_decode: Union[dict, List[dict]],
                 in_index: int = 0, ignore_index: int = IGNORE_INDEX,
                 sampler: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_out_channels(task, out_channels)
        self.task = task
        self.out_channels = out_channels
        self.in_index = in_index
        self.loss_decode = TaskLoss(task, loss_decode, ignore_index=ignore_index,
                                    sampler=sampler)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Weighted task loss of (N, C, H, W) logits against the (N, k, H, W) gt."""
        return self.loss_decode(logits, target)
