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

__all__ = [
    'MultiTaskVisualizer', 'colorize_depth', 'colorize_labels', 'colorize_normals',
    'colorize_probability', 'complete_palette', 'default_palette', 'depth_range'
]
