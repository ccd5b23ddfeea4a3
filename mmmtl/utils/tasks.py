"""The dense-prediction tasks mmmtl knows, and the data-sample fields of each.

A task name (``semseg``, ``depth``, ...) is the key used everywhere: in
``task_heads``, ``distill_losses``, metric names and ``tasks`` of a dataset.
Its ground truth lives in ``MultiTaskDataSample.gt_<field>`` and its
prediction in ``pred_<field>``.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Sequence


@dataclass(frozen=True)
class TaskSpec:
    """Static facts about one task.

    Attributes:
        name: Task key, e.g. ``'semseg'``.
        field: Data-sample field suffix: ``gt_<field>`` / ``pred_<field>``.
        kind: ``'label'`` (integer map, ignore 255), ``'binary'`` (0/1 map,
            ignore 255), ``'depth'`` (float map, 0 = invalid) or ``'normal'``
            (3-channel unit vectors, the zero vector = invalid).
        pad_value: Value for padded / ignored pixels of the ground truth.
    """
    name: str
    field: str
    kind: str
    pad_value: float

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


IGNORE_INDEX = 255

TASK_SPECS: Dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec('semseg', 'sem_seg', 'label', IGNORE_INDEX),
        TaskSpec('human_parts', 'human_parts', 'label', IGNORE_INDEX),
        TaskSpec('saliency', 'saliency', 'binary', IGNORE_INDEX),
        TaskSpec('edge', 'edge', 'binary', IGNORE_INDEX),
        TaskSpec('depth', 'depth', 'depth', 0.),
        TaskSpec('normal', 'normal', 'normal', 0.),
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
