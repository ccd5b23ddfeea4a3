from .multitask_visualization_hook import MultiTaskVisualizationHook
from .teacher_cache_check_hook import TeacherCacheCheckHook

__all__ = ['MultiTaskVisualizationHook', 'TeacherCacheCheckHook']
