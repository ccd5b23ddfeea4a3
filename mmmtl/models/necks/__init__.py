from .multiscale_concat_neck import MultiScaleConcatNeck

__all__ = ['MultiScaleConcatNeck']
