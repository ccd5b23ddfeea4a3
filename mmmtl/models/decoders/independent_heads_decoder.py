from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import ModuleDict
from torch import Tensor

from mmmtl.registry import MODELS
from mmmtl.tasks import get_task_spec

from .base_decoder import AuxLogits, BaseMultiTaskDecoder, TaskLogits


@MODELS.register_module()
class IndependentHeadsDecoder(BaseMultiTaskDecoder):
    """One independent head per task: the multi-task baseline's decoder.

    Each head (``ATRCBaselineHead``, ``MMSegTaskHead``, ...) reads the shared
    features and owns its task loss (``loss_decode``); tasks do not exchange
    information. No auxiliary outputs.

    Args:
        task_heads: ``{task: head config}``; ``task`` is filled in, and so is
            ``in_channels`` of a head that omits it when the decoder is given
            ``in_channels`` (the neck's output channels).
        shared_head_cfg: Keys set on every head config (e.g. ``channels``,
            ``norm_cfg``), so one line resizes all heads.
        in_channels: Channels of the input map, filled in by the segmentor
            from the neck's ``out_channels``.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 task_heads: Dict[str, dict],
                 shared_head_cfg: Optional[dict] = None,
                 in_channels: Optional[Union[int, List[int]]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if not task_heads:
            raise ValueError('IndependentHeadsDecoder needs at least one task in task_heads.')
        heads = {}
        for task, head_cfg in task_heads.items():
            get_task_spec(task)
            for key, value in (shared_head_cfg or {}).items():
                if key in head_cfg and head_cfg[key] != value:
                    raise ValueError(
                        f'Task {task!r}: the head config states {key}={head_cfg[key]!r} but '
                        f'shared_head_cfg sets {key}={value!r}; state it once (drop it from '
                        'the head or from shared_head_cfg).')
            head_cfg = dict(head_cfg, **(shared_head_cfg or {}), task=task)
            if 'in_channels' not in head_cfg and head_cfg.get('type') == 'ATRCBaselineHead':
                if in_channels is None:
                    raise KeyError(f'Task {task!r}: the head has no in_channels and the '
                                   'neck does not tell its out_channels.')
                head_cfg['in_channels'] = in_channels
            heads[task] = MODELS.build(head_cfg)
        super().__init__(tasks=list(heads), out_channels={
            task: head.out_channels for task, head in heads.items()
        }, init_cfg=init_cfg)
        self.task_heads = ModuleDict(heads)  # mmengine's: init_weights reaches the heads

    def forward_with_aux(self, feats: Sequence[Tensor]) -> Tuple[TaskLogits, AuxLogits]:
        """feats: neck / backbone maps -> ({task: (N, C_task, h, w)}, {})."""
        return {task: head(feats) for task, head in self.task_heads.items()}, {}

    def task_loss(self, task: str, logits: Tensor, target: Tensor) -> Tensor:
        return self.task_heads[task].loss(logits, target)
