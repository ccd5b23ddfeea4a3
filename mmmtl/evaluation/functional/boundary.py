"""Boundary detection: the SEISM / BSDS protocol in Python (odsF, oisF, AP).

Per image and threshold t (default 99 thresholds 0.01 ... 0.99):

1. structured-edge non-maximum suppression of the soft prediction (as in
   Dollar's ``edgesNms``: orientation from second derivatives of the
   triangle-smoothed map, suppression along the normal with radius 1 and
   multiplier 1.01, fading within 5 pixels of the border), once per image;
2. binarise with ``prediction > t``;
3. morphological thinning (MATLAB ``bwmorph(.., 'thin', inf)``, i.e.
   ``skimage.morphology.thin``) of the binarised prediction and of the ground
   truth; :func:`thin` is a compiled version that visits only "on" pixels
   and gives skimage's result pixel for pixel (tested against it);
4. an exact maximum one-to-one matching of predicted and ground-truth boundary
   pixels closer than ``max_dist * image diagonal`` (0.011 for NYUD-v2,
   0.0075 for PASCAL-Context), by Hopcroft-Karp on the sparse graph of
   candidate pairs (not a distance-transform shortcut, which lets one gt pixel
   explain many predicted ones and overestimates precision);
5. counts (cntR, sumR, cntP, sumP): matched gt pixels, gt pixels, matched
   predicted pixels, predicted pixels.

Counts are summed over images per threshold; odsF is the best F over the
thresholds, oisF uses each image's best threshold, AP is the area under the
precision-recall curve.

Speed: the candidate pairs are built once per image for the lowest threshold
and filtered per threshold (thresholded maps are nested), and thinning runs
on the sparse set of "on" pixels only.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from numba import njit
from scipy.ndimage import convolve1d
from scipy.spatial import cKDTree

from .bipartite_matching import maximum_matching_size

DEFAULT_THRESHOLDS = tuple(np.round(np.linspace(0.01, 0.99, 99), 2))
COUNT_FIELDS = ('cntR', 'sumR', 'cntP', 'sumP')


def _thresholds(thresholds: Union[int, Sequence[float]]) -> np.ndarray:
    if isinstance(thresholds, (int, np.integer)):
        return np.linspace(1. / (thresholds + 1), 1. - 1. / (thresholds + 1), thresholds)
    return np.asarray(thresholds, dtype=np.float64)


# --------------------------------------------------------------------------- NMS
def conv_tri(image: np.ndarray, radius: int) -> np.ndarray:
    """Triangle filter of integer ``radius`` with symmetric padding."""
    if radius <= 0:
        return image
    kernel = np.concatenate([np.arange(1, radius + 2), np.arange(radius, 0, -1)])
    kernel = kernel / float((radius + 1)**2)
    out = convolve1d(image, kernel, axis=0, mode='reflect')
    return convolve1d(out, kernel, axis=1, mode='reflect')


def _bilinear(image: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    height, width = image.shape
    cols = np.clip(cols, 0, width - 1.001)
    rows = np.clip(rows, 0, height - 1.001)
    c0 = cols.astype(np.int64)
    r0 = rows.astype(np.int64)
    dc, dr = cols - c0, rows - r0
    return (image[r0, c0] * (1 - dc) * (1 - dr) + image[r0, c0 + 1] * dc * (1 - dr) +
            image[r0 + 1, c0] * (1 - dc) * dr + image[r0 + 1, c0 + 1] * dc * dr)


def edge_orientation(edge: np.ndarray) -> np.ndarray:
    """Boundary orientation in [0, pi) from the smoothed map's 2nd derivatives."""
    smooth = conv_tri(edge, 4)
    grad_y, grad_x = np.gradient(smooth)
    _, grad_xx = np.gradient(grad_x)
    grad_yy, grad_xy = np.gradient(grad_y)
    return np.mod(np.arctan(grad_yy * np.sign(-grad_xy) / (grad_xx + 1e-5)), np.pi)


def edge_nms(edge: np.ndarray, radius: int = 1, border: int = 5,
             multiplier: float = 1.01) -> np.ndarray:
    """Structured-edge non-maximum suppression of an (H, W) map in [0, 1]."""
    edge = np.asarray(edge, dtype=np.float64)
    orientation = edge_orientation(edge)
    cos_o, sin_o = np.cos(orientation), np.sin(orientation)
    rows, cols = np.mgrid[0:edge.shape[0], 0:edge.shape[1]].astype(np.float64)
    out = edge.copy()
    scaled = edge * multiplier
    for step in range(-radius, radius + 1):
        if step == 0:
            continue
        neighbour = _bilinear(edge, rows + step * sin_o, cols + step * cos_o)
        out[scaled < neighbour] = 0
    height, width = edge.shape
    border = int(min(border, width // 2, height // 2))
    for i in range(border):
        out[:, i] *= i / border
        out[:, width - 1 - i] *= i / border
        out[i, :] *= i / border
        out[height - 1 - i, :] *= i / border
    return out


# ---------------------------------------------------------------------- thinning
def _thinning_luts() -> Tuple[np.ndarray, np.ndarray]:
    """Deletion tables of MATLAB's ``bwmorph thin`` (Lam, Lee & Suen 1992).

    The 8-bit code has bit k-1 set when neighbour x_k is on; x1 = east, then
    counter-clockwise (x2 = north-east, x3 = north, ..., x8 = south-east).
    """
    lut1 = np.zeros(256, dtype=bool)
    lut2 = np.zeros(256, dtype=bool)
    for code in range(256):
        x = [(code >> k) & 1 for k in range(8)]  # x[0] = x1
        xk = lambda k: x[(k - 1) % 8]  # noqa: E731  1-based, cyclic
        crossing = sum(1 for i in range(1, 5)
                       if xk(2 * i - 1) == 0 and (xk(2 * i) or xk(2 * i + 1)))
        n1 = sum(1 for k in range(1, 5) if xk(2 * k - 1) or xk(2 * k))
        n2 = sum(1 for k in range(1, 5) if xk(2 * k) or xk(2 * k + 1))
        g1 = crossing == 1
        g2 = 2 <= min(n1, n2) <= 3
        g3 = ((xk(2) or xk(3) or not xk(8)) and xk(1)) == 0
        g3p = ((xk(6) or xk(7) or not xk(4)) and xk(5)) == 0
        lut1[code] = g1 and g2 and g3
        lut2[code] = g1 and g2 and g3p
    return lut1, lut2


_LUT1, _LUT2 = _thinning_luts()
# (row, col) offsets of x1 ... x8
_NEIGHBOURS = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))


@njit(cache=True)
def _thin_flat(flat: np.ndarray, on: np.ndarray, offsets: np.ndarray, lut1: np.ndarray,
               lut2: np.ndarray) -> None:  # pragma: no cover - compiled
    """Parallel two-subiteration thinning of the padded ``flat`` map in place."""
    delete = np.zeros(on.size, np.bool_)
    alive = on.copy()
    count = alive.size
    changed = True
    while changed:
        changed = False
        for sub in range(2):
            lut = lut1 if sub == 0 else lut2
            for i in range(count):
                index = alive[i]
                code = 0
                for k in range(8):
                    if flat[index + offsets[k]]:
                        code |= 1 << k
                delete[i] = lut[code]
            kept = 0
            for i in range(count):
                if delete[i]:
                    flat[alive[i]] = False
                    changed = True
                else:
                    alive[kept] = alive[i]
                    kept += 1
            count = kept


def thin(mask: np.ndarray) -> np.ndarray:
    """``bwmorph(mask, 'thin', inf)`` of an (H, W) boolean map.

    Equal to ``skimage.morphology.thin(mask)`` (same tables, same parallel
    sub-iterations, zero outside the image), faster on sparse maps.
    """
    height, width = mask.shape
    padded = np.zeros((height + 2, width + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    stride = width + 2
    offsets = np.array([dr * stride + dc for dr, dc in _NEIGHBOURS], dtype=np.int64)
    flat = padded.ravel()
    _thin_flat(flat, np.flatnonzero(flat), offsets, _LUT1, _LUT2)
    return padded[1:-1, 1:-1].copy()


# ---------------------------------------------------------------------- matching
def _compact(ids: np.ndarray, size: int) -> Tuple[np.ndarray, int]:
    """Relabel ``ids`` in [0, size) to 0..k-1 (k distinct ids), in O(size)."""
    present = np.zeros(size, dtype=bool)
    present[ids] = True
    new_ids = np.cumsum(present) - 1
    return new_ids[ids], int(present.sum())


def match_count(pairs_pred: np.ndarray, pairs_gt: np.ndarray, num_pred: int,
                num_gt: int) -> int:
    """Size of a maximum one-to-one matching of a bipartite candidate graph."""
    if pairs_pred.size == 0:
        return 0
    pred_idx, num_p = _compact(pairs_pred, num_pred)
    gt_idx, num_g = _compact(pairs_gt, num_gt)
    if num_g <= num_p:
        return maximum_matching_size(gt_idx, pred_idx, num_g, num_p)
    return maximum_matching_size(pred_idx, gt_idx, num_p, num_g)


def correspond_pixels(pred: np.ndarray, gt: np.ndarray, max_dist: float) -> Tuple[int, int]:
    """Matched (pred, gt) pixel counts of two boolean maps (no thinning here)."""
    radius = max_dist * np.hypot(*pred.shape)
    pred_pts = np.argwhere(pred)
    gt_pts = np.argwhere(gt)
    if len(pred_pts) == 0 or len(gt_pts) == 0:
        return 0, 0
    pairs = cKDTree(pred_pts).sparse_distance_matrix(cKDTree(gt_pts), radius,
                                                     output_type='ndarray')
    count = match_count(pairs['i'], pairs['j'], len(pred_pts), len(gt_pts))
    return count, count


def boundary_counts(pred: np.ndarray,
                    gt_boundary: np.ndarray,
                    max_dist: float = 0.011,
                    thresholds: Union[int, Sequence[float]] = DEFAULT_THRESHOLDS,
                    nms: bool = True,
                    thinning: bool = True,
                    ignore_mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Per-threshold SEISM counts of one image.

    Args:
        pred: (H, W) soft boundary map in [0, 1].
        gt_boundary: (H, W) boolean / {0, 1} ground truth (other values, e.g.
            255, count as not boundary unless ``ignore_mask`` says otherwise).
        max_dist: Matching tolerance as a fraction of the image diagonal.
        thresholds: Thresholds (``pred > t``) or their number.
        nms: Apply structured-edge NMS first.
        thinning: Thin the binarised prediction and the ground truth.
        ignore_mask: Optional (H, W) boolean map of pixels left out.

    Returns:
        (T, 4) float64 array of (cntR, sumR, cntP, sumP).
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt_boundary) == 1
    if pred.shape != gt.shape:
        raise ValueError(f'prediction shape {pred.shape} != ground truth shape {gt.shape}')
    if not np.isfinite(pred).all():
        raise ValueError('boundary prediction contains NaN or inf')
    thr = _thresholds(thresholds)
    if nms:
        pred = edge_nms(pred)
    if ignore_mask is not None:
        pred = np.where(ignore_mask, 0., pred)
        gt = gt & ~ignore_mask
    if thinning:
        gt = thin(gt)
    gt_pts = np.argwhere(gt)
    sum_r = float(len(gt_pts))
    counts = np.zeros((len(thr), 4), dtype=np.float64)
    counts[:, 1] = sum_r

    # Every candidate pair, once, for the loosest threshold.
    base = pred > thr.min()
    base_pts = np.argwhere(base)
    if len(base_pts) == 0:
        return counts
    radius = max_dist * np.hypot(*pred.shape)
    if len(gt_pts):
        pairs = cKDTree(base_pts).sparse_distance_matrix(cKDTree(gt_pts), radius,
                                                         output_type='ndarray')
        pair_pred, pair_gt = pairs['i'].astype(np.int64), pairs['j'].astype(np.int64)
    else:
        pair_pred = pair_gt = np.zeros(0, dtype=np.int64)
    base_values = pred[base_pts[:, 0], base_pts[:, 1]]

    height, width = pred.shape
    padded = np.zeros((height + 2) * (width + 2), dtype=bool)
    base_flat = (base_pts[:, 0] + 1) * (width + 2) + base_pts[:, 1] + 1
    offsets = np.array([dr * (width + 2) + dc for dr, dc in _NEIGHBOURS], dtype=np.int64)
    previous_selected = None
    previous = (0., 0.)
    for k, t in enumerate(thr):
        selected = base_values > t
        if thinning:
            padded[base_flat] = False
            padded[base_flat[selected]] = True
            _thin_flat(padded, base_flat[selected], offsets, _LUT1, _LUT2)
            selected = padded[base_flat]
        num_selected = int(selected.sum())
        if previous_selected is not None and np.array_equal(selected, previous_selected):
            counts[k, [0, 2, 3]] = previous[0], previous[0], previous[1]
            continue
        keep = selected[pair_pred]
        matched = match_count(pair_pred[keep], pair_gt[keep], len(base_pts), len(gt_pts))
        counts[k, 0] = matched
        counts[k, 2] = matched
        counts[k, 3] = num_selected
        previous_selected, previous = selected, (float(matched), float(num_selected))
    return counts


# ----------------------------------------------------------------------- metrics
def _f_measure(precision: np.ndarray, recall: np.ndarray) -> np.ndarray:
    with np.errstate(divide='ignore', invalid='ignore'):
        f = 2 * precision * recall / (precision + recall)
    return np.where(precision + recall > 0, f, 0.)


def _precision_recall(counts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    cnt_r, sum_r, cnt_p, sum_p = (counts[..., i] for i in range(4))
    recall = np.where(sum_r > 0, cnt_r / np.maximum(sum_r, 1e-12), 0.)
    precision = np.where(sum_p > 0, cnt_p / np.maximum(sum_p, 1e-12), 1.)
    return precision, recall


def ods_f(counts: np.ndarray) -> float:
    """Optimal-dataset-scale F from (T, 4) counts summed over images (or (I, T, 4))."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim == 3:
        counts = counts.sum(0)
    if counts[:, 1].max(initial=0) <= 0:
        raise ValueError('odsF: the ground truth has no boundary pixel')
    precision, recall = _precision_recall(counts)
    return float(_f_measure(precision, recall).max())


def ois_f(per_image_counts: np.ndarray) -> float:
    """Optimal-image-scale F: each image at its best threshold, counts pooled."""
    per_image_counts = np.asarray(per_image_counts, dtype=np.float64)
    precision, recall = _precision_recall(per_image_counts)
    best = _f_measure(precision, recall).argmax(axis=1)
    chosen = per_image_counts[np.arange(len(best)), best].sum(0)
    precision, recall = _precision_recall(chosen[None])
    return float(_f_measure(precision, recall)[0])


def average_precision(counts: np.ndarray) -> float:
    """Area under the precision-recall curve over the thresholds.

    101-point interpolated AP: at each recall level r in 0, 0.01, ..., 1 the
    precision is the best precision reached at a recall >= r (0 beyond the
    largest recall).
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim == 3:
        counts = counts.sum(0)
    precision, recall = _precision_recall(counts)
    grid = np.linspace(0, 1, 101)
    interpolated = [precision[recall >= r].max() if (recall >= r).any() else 0. for r in grid]
    return float(np.mean(interpolated))


def boundary_metrics(per_image_counts: np.ndarray) -> Dict[str, float]:
    """odsF, oisF and AP (fractions) from (I, T, 4) per-image counts."""
    return dict(odsF=ods_f(per_image_counts), oisF=ois_f(per_image_counts),
                AP=average_precision(per_image_counts))
