from .checkpoint import allow_mmengine_checkpoint_types, mmengine_safe_types
from .dist_utils import init_cpu_distributed
from .setup_env import register_all_modules
from .tasks import ALL_TASKS, IGNORE_INDEX, TASK_SPECS, TaskSpec, check_tasks, get_task_spec

__all__ = [
    'allow_mmengine_checkpoint_types', 'mmengine_safe_types', 'init_cpu_distributed',
    'register_all_modules', 'ALL_TASKS', 'IGNORE_INDEX', 'TASK_SPECS',
    'TaskSpec', 'check_tasks', 'get_task_spec'
]
