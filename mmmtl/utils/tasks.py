"""Backward-compatible alias: the task table now lives in :mod:`mmmtl.tasks`."""
from mmmtl.tasks import ALL_TASKS, IGNORE_INDEX, TASK_SPECS, TaskSpec, check_tasks, get_task_spec

__all__ = ['ALL_TASKS', 'IGNORE_INDEX', 'TASK_SPECS', 'TaskSpec', 'check_tasks', 'get_task_spec']
