from .base_mtl_dataset import BaseMultiTaskDataset
from .nyud_mtl import NYUDv2MTLDataset
from .pascal_context_mtl import PascalContextMTLDataset
from .synthetic import make_synthetic_dataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'BaseMultiTaskDataset', 'NYUDv2MTLDataset', 'PascalContextMTLDataset',
    'make_synthetic_dataset'
]
