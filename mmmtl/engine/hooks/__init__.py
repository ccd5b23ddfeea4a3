from .atomic_checkpoint_hook import AtomicCheckpointHook
from .multitask_visualization_hook import MultiTaskVisualizationHook
from .non_finite_loss_hook import NonFiniteLossHook

__all__ = ['AtomicCheckpointHook', 'MultiTaskVisualizationHook', 'NonFiniteLossHook']
