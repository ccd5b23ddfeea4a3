from .colorize import (
    colorize_depth,
    colorize_labels,
    colorize_normals,
    colorize_probability,
    complete_palette,
    default_palette,
    depth_range,
)
from .multitask_visualizer import MultiTaskVisualizer
from .prediction_files import DEPTH_PNG_SCALE, save_task_prediction

__all__ = [
    'MultiTaskVisualizer', 'colorize_depth', 'colorize_labels', 'colorize_normals',
    'colorize_probability', 'complete_palette', 'default_palette', 'depth_range',
    'DEPTH_PNG_SCALE', 'save_task_prediction'
]
