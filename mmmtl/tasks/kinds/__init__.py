"""The task kinds mmmtl knows; importing this package registers them."""
from .binary import BinaryKind
from .depth import DepthKind
from .label import IGNORE_INDEX, LabelKind
from .normal import NormalKind

__all__ = ['BinaryKind', 'DepthKind', 'IGNORE_INDEX', 'LabelKind', 'NormalKind']
