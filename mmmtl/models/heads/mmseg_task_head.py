from typing import Sequence

import torch

from mmmtl.registry import MODELS

from .base_task_head import BaseTaskHead


@MODELS.register_module()
class MMSegTaskHead(BaseTaskHead):
    """Use any mmseg decode head (FCNHead, ASPPHead, UPerHead, ...) for a task.

    The decode head is built with ``num_classes = out_channels`` and reads the
    backbone (or neck) outputs as in mmseg; its own loss is not used, the
    task loss ``loss_decode`` of this wrapper is.

    Example:
        >>> depth=dict(type='MMSegTaskHead', out_channels=1,
        ...            decode_head=dict(type='FCNHead', in_channels=768,
        ...                             in_index=3, channels=128),
        ...            loss_decode=dict(type='DepthL1Loss'))

    Args:
        decode_head: Config of the mmseg decode head (without num_classes).
        **kwargs: See :class:`BaseTaskHead` (task, out_channels, loss_decode).
    """

    def __init__(self, decode_head: dict, **kwargs) -> None:
        super().__init__(**kwargs)
        head_cfg = dict(decode_head)
        head_cfg['num_classes'] = self.out_channels
        head_cfg['out_channels'] = self.out_channels
        if self.out_channels == 1:
            head_cfg.setdefault('threshold', 0.5)
        self.decode_head = MODELS.build(head_cfg)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Multi-level feats -> (N, out_channels, H', W') logits."""
        return self.decode_head(list(feats))
