from .timm_nchw_backbone import TimmNCHWBackbone

__all__ = ['TimmNCHWBackbone']
