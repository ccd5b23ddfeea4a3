from .atrc import ATRCDecoder
from .base_decoder import BaseMultiTaskDecoder, build_decoder
from .demt import DeMTDecoder
from .independent_heads_decoder import IndependentHeadsDecoder

__all__ = [
    'ATRCDecoder', 'BaseMultiTaskDecoder', 'DeMTDecoder', 'IndependentHeadsDecoder',
    'build_decoder'
]
