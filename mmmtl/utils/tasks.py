"""The dense-prediction tasks mmmtl knows, and the data-sample fields of each.

A task name (``semseg``, ``depth``, ...) is the key used everywhere: in
``task_heads``, ``distill_losses``, metric names and ``tasks`` of a dataset.
Its ground truth lives in ``MultiTaskDataSample.gt_<field>`` and its
prediction in ``pred_<field>``.
"""
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class TaskSpec:
    """Every static fact about one task; code dispatches on these, never on names.

    Attributes:
        name: Task key, e.g. ``'semseg'``.
        field: Data-sample field suffix: ``gt_<field>`` / ``pred_<field>``.
        kind: ``'label'`` (integer map, ignore 255; prediction = argmax),
            ``'binary'`` (0/1 map, ignore 255; prediction = probability),
            ``'depth'`` (float map, 0 = invalid; scales with the image) or
            ``'normal'`` (3-channel unit vectors, the zero vector = invalid).
        pad_value: Value for padded / ignored pixels of the ground truth.
        out_channels: Output channels the task allows, or None for a label
            task (any number of classes >= 2).
        evaluator: Key of the task's evaluator in
            :data:`mmmtl.evaluation.metrics.task_evaluators.TASK_EVALUATORS`
            (per-image statistics, their reduction and the export format).
        default_loss: Loss config of the reference multi-task recipe
            (ATRC / MTI-Net), including its task weight.
        distill_mode: Default mode of a logit-distillation loss (see
            :mod:`mmmtl.models.losses.distill_utils`).
    """
    name: str
    field: str
    kind: str
    pad_value: float
    out_channels: Optional[Tuple[int, ...]]
    evaluator: str
    default_loss: Dict = field(default_factory=dict)
    distill_mode: str = 'channel'

    @property
    def gt_key(self) -> str:
        return f'gt_{self.field}'

    @property
    def pred_key(self) -> str:
        return f'pred_{self.field}'

    @property
    def is_label(self) -> bool:
        """Integer-valued map that resizes with nearest and pads with 255."""
        return self.kind in ('label', 'binary')

    @property
    def gt_channels(self) -> int:
        """Channels of the ground-truth map (3 for normals, else 1)."""
        return 3 if self.kind == 'normal' else 1

    def check_out_channels(self, out_channels: int) -> None:
        """Raise a ValueError naming the task if ``out_channels`` cannot fit it."""
        if self.out_channels is None:
            if out_channels < 2:
                raise ValueError(f'Task {self.name!r}: a label head needs out_channels = '
                                 f'number of classes >= 2, got {out_channels}.')
        elif out_channels not in self.out_channels:
            raise ValueError(f'Task {self.name!r}: the head has out_channels={out_channels}, '
                             f'the task needs {" or ".join(map(str, self.out_channels))}.')


IGNORE_INDEX = 255

TASK_SPECS: Dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec('semseg', 'sem_seg', 'label', IGNORE_INDEX, None, 'segmentation',
                 dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0), 'channel'),
        TaskSpec('human_parts', 'human_parts', 'label', IGNORE_INDEX, None, 'segmentation',
                 dict(type='MultiTaskCrossEntropyLoss', loss_weight=2.0), 'channel'),
        TaskSpec('saliency', 'saliency', 'binary', IGNORE_INDEX, (1, 2), 'saliency',
                 dict(type='BalancedBinaryCrossEntropyLoss', loss_weight=5.0), 'binary'),
        TaskSpec('edge', 'edge', 'binary', IGNORE_INDEX, (1, ), 'boundary',
                 dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.95,
                      loss_weight=50.0), 'binary'),
        TaskSpec('depth', 'depth', 'depth', 0., (1, ), 'depth',
                 dict(type='DepthL1Loss', loss_weight=1.0), 'spatial'),
        TaskSpec('normal', 'normal', 'normal', 0., (3, ), 'normal',
                 dict(type='NormalL1Loss', loss_weight=10.0), 'spatial'),
    )
}

ALL_TASKS: List[str] = list(TASK_SPECS)


def get_task_spec(task: str) -> TaskSpec:
    """Return the :class:`TaskSpec` of ``task`` or raise a clear KeyError."""
    try:
        return TASK_SPECS[task]
    except KeyError:
        raise KeyError(f'Unknown task name {task!r}; known tasks are '
                       f'{ALL_TASKS}.') from None


def check_tasks(tasks: Iterable[str], available: Sequence[str] = ALL_TASKS,
                owner: str = 'tasks') -> List[str]:
    """Validate task names against ``available`` and return them as a list.

    Args:
        tasks: Requested task names.
        available: Tasks the caller supports (e.g. a dataset's tasks).
        owner: Name of the caller, used in the error message.
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError(f'{owner}: the task list is empty.')
    for task in tasks:
        get_task_spec(task)
        if task not in available:
            raise KeyError(f'{owner}: task {task!r} is not provided here; '
                           f'available tasks are {list(available)}.')
    if len(set(tasks)) != len(tasks):
        raise ValueError(f'{owner}: duplicated task in {tasks}.')
    return tasks
