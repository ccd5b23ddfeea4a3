from .context_attention import (
                                CONTEXT_TYPES,
                                GlobalContextAttention,
                                LabelContextAttention,
                                LocalContextAttention,
                                build_context_attention,
)

__all__ = [
    'CONTEXT_TYPES', 'GlobalContextAttention', 'LabelContextAttention', 'LocalContextAttention',
    'build_context_attention'
]
