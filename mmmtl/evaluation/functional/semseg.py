"""Semantic / part segmentation: confusion matrix, mIoU, pixel accuracy.

Protocol: one confusion matrix accumulated over the whole dataset (not a
mean of per-image IoUs). In the multi-task literature (MTI-Net, ATRC, InvPT)
a class absent from both ground truth and prediction counts as IoU 0
(``absent='zero'``); mmseg's convention (NaN, left out of the mean) is
``absent='nan'``.
"""
import numpy as np


def semseg_confusion(pred: np.ndarray, gt: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """Confusion matrix ``conf[gt, pred]`` of one image.

    Args:
        pred: (H, W) integer class map.
        gt: (H, W) integer class map, ``ignore_index`` = ignored.
        num_classes: Number of classes C.

    Returns:
        (C, C) int64 matrix.
    """
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction shape {pred.shape} != ground truth shape {gt.shape}')
    valid = gt != ignore_index
    gt_valid = gt[valid].astype(np.int64)
    pred_valid = pred[valid].astype(np.int64)
    if gt_valid.size and (gt_valid.min() < 0 or gt_valid.max() >= num_classes):
        raise ValueError(f'ground-truth class {int(gt_valid.max())} is outside '
                         f'[0, {num_classes}) and is not ignore ({ignore_index})')
    if pred_valid.size and (pred_valid.min() < 0 or pred_valid.max() >= num_classes):
        raise ValueError(f'predicted class {int(pred_valid.max())} is outside '
                         f'[0, {num_classes})')
    return np.bincount(gt_valid * num_classes + pred_valid,
                       minlength=num_classes**2).reshape(num_classes, num_classes)


def iou_from_confusion(conf: np.ndarray, absent: str = 'zero') -> np.ndarray:
    """Per-class IoU = TP / (TP + FP + FN) from a (C, C) confusion matrix."""
    if absent not in ('zero', 'nan'):
        raise ValueError(f"absent must be 'zero' or 'nan', got {absent!r}")
    conf = np.asarray(conf, dtype=np.float64)
    tp = np.diag(conf)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = tp / union
    iou[union == 0] = 0. if absent == 'zero' else np.nan
    return iou


def miou_from_confusion(conf: np.ndarray, absent: str = 'zero') -> float:
    """Mean IoU (fraction in [0, 1]); see :func:`iou_from_confusion`."""
    iou = iou_from_confusion(conf, absent)
    if absent == 'nan':
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else float('nan')
    return float(iou.mean())


def pixel_accuracy(conf: np.ndarray) -> float:
    """Fraction of valid pixels classified correctly."""
    conf = np.asarray(conf, dtype=np.float64)
    total = conf.sum()
    if total == 0:
        raise ValueError('pixel accuracy of an empty confusion matrix')
    return float(np.trace(conf) / total)
