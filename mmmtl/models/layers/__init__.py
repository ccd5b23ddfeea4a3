from .up_transformer import CrossScaleSelfAttention, UPTransformerBlock

__all__ = ['CrossScaleSelfAttention', 'UPTransformerBlock']
