"""The static facts of one task."""
from dataclasses import dataclass
from typing import Optional, Tuple

from .task_kind import TaskKind, get_task_kind


@dataclass(frozen=True)
class TaskSpec:
    """Every static fact about one task; behaviour lives in its kind.

    Attributes:
        name: Task key, e.g. ``'semseg'``.
        field: Data-sample field suffix: ``gt_<field>`` / ``pred_<field>``.
        kind: Name of the task's :class:`TaskKind` (``'label'``,
            ``'binary'``, ``'depth'``, ``'normal'``); :attr:`task_kind` is
            the kind itself.
        out_channels: Output channels the task allows, or None for a label
            task (any number of classes >= 2).
        evaluator: Key of the task's evaluator in
            :data:`mmmtl.evaluation.metrics.task_evaluators.TASK_EVALUATORS`
            (per-image statistics, their reduction and the export format).
    """
    name: str
    field: str
    kind: str
    out_channels: Optional[Tuple[int, ...]]
    evaluator: str

    def __post_init__(self) -> None:
        get_task_kind(self.kind)  # an unknown kind fails here, naming the known ones

    @property
    def task_kind(self) -> TaskKind:
        """The behaviour of the task's maps."""
        return get_task_kind(self.kind)

    @property
    def gt_key(self) -> str:
        return f'gt_{self.field}'

    @property
    def pred_key(self) -> str:
        return f'pred_{self.field}'

    @property
    def pad_value(self) -> float:
        """Value of padded / ignored ground-truth pixels (of the kind)."""
        return self.task_kind.pad_value

    @property
    def is_label(self) -> bool:
        """Integer label map (mmseg decode losses read it)."""
        return self.task_kind.label_map

    @property
    def gt_channels(self) -> int:
        """Channels of the ground-truth map (3 for normals, else 1)."""
        return self.task_kind.gt_channels

    def check_out_channels(self, out_channels: int) -> None:
        """Raise a ValueError naming the task if ``out_channels`` cannot fit it."""
        if self.out_channels is None:
            if out_channels < 2:
                raise ValueError(f'Task {self.name!r}: a label head needs out_channels = '
                                 f'number of classes >= 2, got {out_channels}.')
        elif out_channels not in self.out_channels:
            raise ValueError(f'Task {self.name!r}: the head has out_channels={out_channels}, '
                             f'the task needs {" or ".join(map(str, self.out_channels))}.')
