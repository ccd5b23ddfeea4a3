"""Depth: RMSE pooled over every valid pixel of the dataset, and friends.

Protocol (MTI-Net / ATRC / InvPT): valid pixels have a finite gt > 0,
predictions are clamped at 0 (log metrics clamp at 1e-9 as well), and the
RMSE is sqrt(sum of squared errors / number of valid pixels) over the whole
dataset, not a mean of per-image RMSEs. :func:`depth_statistics` returns the
per-image sums; add them up and call :func:`depth_metrics`.
"""
from typing import Dict

import numpy as np

DEPTH_STAT_KEYS = ('count', 'sq_err', 'abs_rel', 'sq_log_err', 'delta1')


def depth_statistics(pred: np.ndarray, gt: np.ndarray) -> Dict[str, float]:
    """Sufficient statistics of one image: (H, W) prediction and gt in metres."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction shape {pred.shape} != ground truth shape {gt.shape}')
    if not np.isfinite(pred).all():
        raise ValueError('depth prediction contains NaN or inf')
    valid = np.isfinite(gt) & (gt > 0)
    p = np.clip(pred[valid], 0, None)
    t = gt[valid]
    log_p = np.log(np.clip(p, 1e-9, None))
    ratio = np.maximum(p / t, t / np.clip(p, 1e-9, None))
    return dict(
        count=float(valid.sum()),
        sq_err=float(((p - t)**2).sum()),
        abs_rel=float((np.abs(p - t) / t).sum()),
        sq_log_err=float(((log_p - np.log(t))**2).sum()),
        delta1=float((ratio < 1.25).sum()))


def depth_metrics(stats: Dict[str, float]) -> Dict[str, float]:
    """RMSE (m), abs-rel, log-RMSE and delta<1.25 (fraction) from summed stats."""
    count = stats['count']
    if count <= 0:
        raise ValueError('no valid depth pixel in the whole dataset')
    return dict(
        rmse=float(np.sqrt(stats['sq_err'] / count)),
        abs_rel=float(stats['abs_rel'] / count),
        log_rmse=float(np.sqrt(stats['sq_log_err'] / count)),
        delta1=float(stats['delta1'] / count))
