from .atomic_checkpoint_hook import AtomicCheckpointHook
from .multitask_visualization_hook import MultiTaskVisualizationHook
from .non_finite_loss_hook import NonFiniteLossHook
from .teacher_cache_check_hook import TeacherCacheCheckHook

__all__ = [
    'AtomicCheckpointHook', 'MultiTaskVisualizationHook', 'NonFiniteLossHook',
    'TeacherCacheCheckHook'
]
