from .atrc import ATRCDecoder
from .base_decoder import BaseMultiTaskDecoder, build_decoder
from .demt import DeMTDecoder
from .independent_heads_decoder import IndependentHeadsDecoder
from .invpt import InvPTDecoder

__all__ = [
    'ATRCDecoder', 'BaseMultiTaskDecoder', 'DeMTDecoder', 'IndependentHeadsDecoder',
    'InvPTDecoder', 'build_decoder'
]
