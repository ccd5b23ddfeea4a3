"""Saliency: dataset-level max F-measure (beta^2 = 0.3) and mIoU.

Protocol (ATRC / MTI-Net): for thresholds 0.05, 0.10, ..., 0.95 the
prediction is binarised with ``>`` threshold, the counts TP, FP, FN are
pooled over the dataset per threshold, F is computed per threshold and the
maximum is reported. mIoU is the IoU of background and salient classes of
the prediction binarised at 0.5, from a pooled confusion.
"""
from typing import Dict, Sequence

import numpy as np

from .semseg import miou_from_confusion, semseg_confusion

SALIENCY_THRESHOLDS = tuple(np.round(np.arange(0.05, 0.951, 0.05), 2))
BETA_SQ = 0.3


def saliency_statistics(prob: np.ndarray, gt: np.ndarray,
                        thresholds: Sequence[float] = SALIENCY_THRESHOLDS,
                        ignore_index: int = 255) -> Dict[str, np.ndarray]:
    """Per-threshold TP/FP/FN and the 2-class confusion at 0.5 of one image.

    Args:
        prob: (H, W) probability of salient in [0, 1].
        gt: (H, W) {0, 1}, ``ignore_index`` ignored.
    """
    prob = np.asarray(prob, dtype=np.float64)
    gt = np.asarray(gt)
    if prob.shape != gt.shape:
        raise ValueError(f'prediction shape {prob.shape} != ground truth shape {gt.shape}')
    if not np.isfinite(prob).all():
        raise ValueError('saliency prediction contains NaN or inf')
    valid = gt != ignore_index
    p = prob[valid]
    t = gt[valid] == 1
    thr = np.asarray(thresholds)[:, None]
    pred_pos = p[None, :] > thr
    tp = (pred_pos & t[None]).sum(1)
    fp = (pred_pos & ~t[None]).sum(1)
    fn = (~pred_pos & t[None]).sum(1)
    conf = semseg_confusion((prob > 0.5).astype(np.int64), np.where(valid, gt, 255), 2,
                            ignore_index=255)
    return dict(tp=tp.astype(np.float64), fp=fp.astype(np.float64),
                fn=fn.astype(np.float64), conf=conf)


def saliency_metrics(stats: Dict[str, np.ndarray], beta_sq: float = BETA_SQ
                     ) -> Dict[str, float]:
    """maxF (fraction) over thresholds and mIoU of the 0.5-binarised map."""
    tp, fp, fn = stats['tp'], stats['fp'], stats['fn']
    with np.errstate(divide='ignore', invalid='ignore'):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.)
        denom = beta_sq * precision + recall
        f = np.where(denom > 0, (1 + beta_sq) * precision * recall / denom, 0.)
    return dict(maxF=float(f.max()), mIoU=miou_from_confusion(stats['conf']))
