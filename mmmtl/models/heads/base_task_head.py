from typing import Optional, Sequence, Union

import torch
from mmengine.model import BaseModule

from mmmtl.registry import MODELS
from mmmtl.utils.tasks import get_task_spec


def check_out_channels(task: str, out_channels: int) -> None:
    """Raise a ValueError naming ``task`` if ``out_channels`` cannot fit it."""
    get_task_spec(task).check_out_channels(out_channels)


class BaseTaskHead(BaseModule):
    """A light head that predicts one task from (neck or backbone) features.

    Args:
        task: Task name (``semseg``, ``depth``, ...).
        out_channels: Output channels (classes for label tasks).
        loss_decode: Config of the task loss (its ``loss_weight`` is the task
            weight).
        in_index: Which input feature map the head reads.
        init_cfg: Initialisation config.
    """

    def __init__(self, task: str, out_channels: int, loss_decode: dict, in_index: int = 0,
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_out_channels(task, out_channels)
        self.task = task
        self.out_channels = out_channels
        self.in_index = in_index
        self.loss_decode = MODELS.build(loss_decode)

    def loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Weighted task loss of (N, C, H, W) logits against the stacked gt."""
        return self.loss_decode(logits, target)
