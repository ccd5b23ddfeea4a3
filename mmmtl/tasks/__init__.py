"""The task table and the task kinds: what every task is and how its maps behave.

- :mod:`.table`: ``TASK_SPECS`` (name -> :class:`TaskSpec`), ``get_task_spec``,
  ``check_tasks``, ``register_task``.
- :mod:`.task_kind`: :class:`TaskKind`, the behaviour of one kind of map, and
  its registry; :mod:`.kinds` holds one file per kind.
- :mod:`.aligned_field`: :class:`AlignedField`, the rule by which one
  per-pixel map of a sample follows the image through the transforms.
- :mod:`.sampling_grid`: :class:`SamplingGrid`, where each pixel samples a
  map stored for the original image, moved as an affine record.
"""
from .aligned_field import (
                            ALIGNED_FIELDS,
                            AlignedField,
                            get_aligned_field,
                            iter_aligned_fields,
                            register_aligned_field,
)
from .kinds import IGNORE_INDEX, BinaryKind, DepthKind, LabelKind, NormalKind
from .sampling_grid import SamplingGrid, SamplingGridField
from .table import ALL_TASKS, TASK_SPECS, check_tasks, get_task_spec, register_task
from .task_kind import TASK_KINDS, GTLimits, TaskKind, get_task_kind, register_task_kind
from .task_spec import TaskSpec

__all__ = [
    'ALIGNED_FIELDS', 'AlignedField', 'get_aligned_field', 'iter_aligned_fields',
    'register_aligned_field', 'IGNORE_INDEX', 'BinaryKind', 'DepthKind', 'LabelKind',
    'NormalKind', 'SamplingGrid', 'SamplingGridField', 'ALL_TASKS', 'TASK_SPECS',
    'check_tasks', 'get_task_spec', 'register_task',
    'TASK_KINDS', 'GTLimits', 'TaskKind', 'get_task_kind', 'register_task_kind', 'TaskSpec'
]
