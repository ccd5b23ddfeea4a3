"""Surface normals: angular error statistics over every valid pixel.

Both vectors are L2-normalised and the angle is
``2 * atan2(|p - t|, |p + t|)`` (exact also near 0 and 180 degrees, unlike
``acos`` of the dot product). Pixels whose gt has zero norm are invalid.

Mean, RMSE and the within-11.25/22.5/30 degree fractions are exact from sums.
The median comes from a histogram of 0.05-degree bins pooled over the
dataset (error at most 0.025 degrees), so memory does not grow with the
dataset.
"""
from typing import Dict

import numpy as np

HIST_BIN_DEG = 0.05
NUM_BINS = int(round(180 / HIST_BIN_DEG))
THRESHOLDS_DEG = (11.25, 22.5, 30.0)


def normal_angles(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Angles (degrees) of valid pixels; pred, gt: (H, W, 3) or (3, H, W)."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction shape {pred.shape} != ground truth shape {gt.shape}')
    if pred.ndim == 3 and pred.shape[0] == 3 and pred.shape[-1] != 3:
        pred, gt = pred.transpose(1, 2, 0), gt.transpose(1, 2, 0)
    if not np.isfinite(pred).all():
        raise ValueError('normal prediction contains NaN or inf')
    gt_norm = np.linalg.norm(gt, axis=-1)
    valid = np.isfinite(gt_norm) & (gt_norm > 0)
    t = gt[valid] / gt_norm[valid][:, None]
    p = pred[valid]
    p_norm = np.linalg.norm(p, axis=-1, keepdims=True)
    p = p / np.clip(p_norm, 1e-12, None)
    angle = 2 * np.arctan2(np.linalg.norm(p - t, axis=-1), np.linalg.norm(p + t, axis=-1))
    return np.degrees(angle)


def normal_statistics(pred: np.ndarray, gt: np.ndarray) -> Dict[str, np.ndarray]:
    """Per-image sums and angle histogram; add them up over the dataset."""
    angles = normal_angles(pred, gt)
    hist = np.bincount(np.minimum((angles / HIST_BIN_DEG).astype(np.int64), NUM_BINS - 1),
                       minlength=NUM_BINS).astype(np.int32)
    stats = dict(count=np.float64(angles.size), sum=angles.sum(),
                 sq_sum=(angles**2).sum(), hist=hist)
    for thr in THRESHOLDS_DEG:
        stats[f'within_{thr}'] = np.float64((angles < thr).sum())
    return stats


def normal_metrics(stats: Dict[str, np.ndarray]) -> Dict[str, float]:
    """mean, median, rmse (degrees) and % of pixels within 11.25/22.5/30."""
    count = float(stats['count'])
    if count <= 0:
        raise ValueError('no valid normal pixel in the whole dataset')
    cumulative = np.cumsum(stats['hist'])
    median_bin = int(np.searchsorted(cumulative, count / 2.))
    result = dict(
        mean=float(stats['sum'] / count),
        median=(median_bin + 0.5) * HIST_BIN_DEG,
        rmse=float(np.sqrt(stats['sq_sum'] / count)))
    for thr in THRESHOLDS_DEG:
        result[str(thr)] = 100. * float(stats[f'within_{thr}']) / count
    return result
