from .base_decoder import BaseMultiTaskDecoder, build_decoder
from .independent_heads_decoder import IndependentHeadsDecoder
from .invpt import InvPTDecoder

__all__ = ['BaseMultiTaskDecoder', 'IndependentHeadsDecoder', 'InvPTDecoder', 'build_decoder']
