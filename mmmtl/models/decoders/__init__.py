from .atrc import ATRCDecoder
from .base_decoder import BaseMultiTaskDecoder, build_decoder
from .independent_heads_decoder import IndependentHeadsDecoder

__all__ = ['ATRCDecoder', 'BaseMultiTaskDecoder', 'IndependentHeadsDecoder', 'build_decoder']
