"""The dense-prediction tasks mmmtl knows.

A task name (``semseg``, ``depth``, ...) is the key used everywhere: in
``task_heads``, ``distill_losses``, metric names and ``tasks`` of a dataset.
Its ground truth lives in ``MultiTaskDataSample.gt_<field>`` and its
prediction in ``pred_<field>``. A new task of a known kind is one
:func:`register_task` call.
"""
from typing import Dict, Iterable, List, Sequence

from .aligned_field import AlignedField, register_aligned_field
from .kinds import IGNORE_INDEX
from .task_spec import TaskSpec

TASK_SPECS: Dict[str, TaskSpec] = {}
ALL_TASKS: List[str] = []


def register_task(spec: TaskSpec) -> TaskSpec:
    """Add ``spec`` to the table and register its ground truth as an aligned field."""
    if spec.name in TASK_SPECS:
        raise KeyError(f'Task {spec.name!r} is already in the task table.')
    register_aligned_field(spec.gt_key, AlignedField.ground_truth(spec.task_kind))
    TASK_SPECS[spec.name] = spec
    ALL_TASKS.append(spec.name)
    return spec


for _spec in (
        #        name           field          kind      out_channels  evaluator
        TaskSpec('semseg',      'sem_seg',     'label',  None,         'segmentation'),
        TaskSpec('human_parts', 'human_parts', 'label',  None,         'segmentation'),
        TaskSpec('saliency',    'saliency',    'binary', (1, 2),       'saliency'),
        TaskSpec('edge',        'edge',        'binary', (1, ),        'boundary'),
        TaskSpec('depth',       'depth',       'depth',  (1, ),        'depth'),
        TaskSpec('normal',      'normal',      'normal', (3, ),        'normal'),
):
    register_task(_spec)


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


__all__ = ['IGNORE_INDEX', 'TASK_SPECS', 'ALL_TASKS', 'register_task', 'get_task_spec',
           'check_tasks']
