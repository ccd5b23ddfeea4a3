from .kdam_distiller import KDAMDistiller

__all__ = ['KDAMDistiller']
