from typing import List, Union

import torch.nn as nn
from torch import Tensor

from mmmtl.registry import MODELS
from mmmtl.utils.tasks import get_task_spec


class TaskLoss(nn.Module):
    """The loss of one task: one loss config, or a list of them summed.

    Args:
        task: Task name.
        loss_decode: Loss config(s); each ``loss_weight`` is its weight.
    """

    def __init__(self, task: str, loss_decode: Union[dict, List[dict]]) -> None:
        super().__init__()
        get_task_spec(task)
        self.task = task
        cfgs = loss_decode if isinstance(loss_decode, (list, tuple)) else [loss_decode]
        self.losses = nn.ModuleList([MODELS.build(cfg) for cfg in cfgs])

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """logits: (N, C, H, W); target: (N, k, H, W) -> weighted scalar loss."""
        total = None
        for loss in self.losses:
            value = loss(logits, target)
            total = value if total is None else total + value
        return total
