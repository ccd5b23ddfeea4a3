from typing import Sequence

import torch

from mmmtl.registry import MODELS

from .base_task_head import BaseTaskHead

# Loss settings of an mmseg decode head that belong to the task here.
_LOSS_KEYS = ('loss_decode', 'sampler', 'ignore_index')


@MODELS.register_module()
class MMSegTaskHead(BaseTaskHead):
    """Use any mmseg decode head (FCNHead, ASPPHead, UPerHead, ...) for a task.

    The decode head is built with ``num_classes = out_channels`` and reads the
    backbone (or neck) outputs as in mmseg. The task loss is this wrapper's
    ``loss_decode`` (see :class:`TaskLoss`); an mmseg head config that carries
    its own ``loss_decode`` / ``sampler`` / ``ignore_index`` hands them over
    to the wrapper, so a decode-head config copied from mmseg keeps its loss.

    Example:
        >>> semseg=dict(type='MMSegTaskHead', out_channels=40,
        ...             decode_head=dict(type='FCNHead', in_channels=512,
        ...                              in_index=3, channels=128),
        ...             loss_decode=[dict(type='CrossEntropyLoss', avg_non_ignore=True),
        ...                          dict(type='DiceLoss', loss_weight=0.5)])

    Args:
        decode_head: Config of the mmseg decode head (without num_classes).
        **kwargs: See :class:`BaseTaskHead` (task, out_channels, loss_decode,
            sampler, ignore_index).
    """

    def __init__(self, decode_head: dict, **kwargs) -> None:
        head_cfg = dict(decode_head)
        for key in _LOSS_KEYS:
            if key not in head_cfg:
                continue
            if key in kwargs:
                raise ValueError(
                    f'Task {kwargs.get("task")!r}: {key} is set both on MMSegTaskHead and in '
                    f'its decode_head ({head_cfg.get("type")}); keep one.')
            kwargs[key] = head_cfg.pop(key)
        if 'loss_decode' not in kwargs:
            raise TypeError(f'Task {kwargs.get("task")!r}: MMSegTaskHead needs loss_decode '
                            '(on the wrapper or in its decode_head).')
        super().__init__(**kwargs)
        head_cfg['num_classes'] = self.out_channels
        head_cfg['out_channels'] = self.out_channels
        if self.out_channels == 1:
            head_cfg.setdefault('threshold', 0.5)
        # The decode head's own loss is never used: build none.
        head_cfg['loss_decode'] = []
        self.decode_head = MODELS.build(head_cfg)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Multi-level feats -> (N, out_channels, H', W') logits."""
        return self.decode_head(list(feats))
