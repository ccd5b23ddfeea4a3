from .multitask_visualization_hook import MultiTaskVisualizationHook

__all__ = ['MultiTaskVisualizationHook']
