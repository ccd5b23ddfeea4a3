"""Logit-distillation losses: KDAM's CS divergence and the KL / DIST baselines."""
from .base import BaseDistillLoss
from .cs import CSDivergenceLoss, cs_divergence
from .dist import DISTLoss, pearson
from .kl import KLDivergenceLoss

__all__ = [
    'BaseDistillLoss', 'CSDivergenceLoss', 'DISTLoss', 'KLDivergenceLoss', 'cs_divergence',
    'pearson'
]
