from .checkpoint import (
                         allow_mmengine_checkpoint_types,
                         find_resumable_checkpoint,
                         is_complete_checkpoint,
                         mmengine_safe_types,
                         read_checkpoint,
)
from .dist_utils import collective_timeout_names_ranks, init_cpu_distributed
from .fileio import atomic_write
from .setup_env import register_all_modules
from .tasks import ALL_TASKS, IGNORE_INDEX, TASK_SPECS, TaskSpec, check_tasks, get_task_spec

__all__ = [
    'allow_mmengine_checkpoint_types', 'find_resumable_checkpoint', 'is_complete_checkpoint',
    'read_checkpoint', 'mmengine_safe_types', 'collective_timeout_names_ranks',
    'init_cpu_distributed', 'atomic_write',
    'register_all_modules', 'ALL_TASKS', 'IGNORE_INDEX', 'TASK_SPECS',
    'TaskSpec', 'check_tasks', 'get_task_spec'
]
