"""Colour maps of every task's maps, as (H, W, 3) uint8 RGB images."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from mmmtl.tasks import IGNORE_INDEX

IGNORE_COLOR = (0, 0, 0)
# Ignored pixels of binary (edge / saliency) ground truth: grey, because black
# is already the colour of 0 in the heat map.
BINARY_IGNORE_COLOR = (96, 96, 96)


def default_palette(num_classes: int, seed: int = 7) -> np.ndarray:
    """A fixed pseudo-random palette (num_classes, 3) uint8 without black."""
    rng = np.random.RandomState(seed)
    return rng.randint(40, 256, size=(max(num_classes, 1), 3)).astype(np.uint8)


def complete_palette(palette: Optional[Sequence], num_classes: int) -> np.ndarray:
    """``palette`` as (N, 3) uint8 with at least ``num_classes`` rows.

    Classes beyond the given palette (or all classes without one) get the
    deterministic colours of :func:`default_palette`.
    """
    fallback = default_palette(num_classes)
    if palette is None or len(palette) == 0:
        return fallback
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    if len(palette) >= num_classes:
        return palette
    return np.concatenate([palette, fallback[len(palette):]], axis=0)


def colorize_labels(labels: np.ndarray, palette: Optional[Sequence] = None,
                    ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """(H, W) class map -> (H, W, 3) RGB; ``ignore_index`` is black."""
    labels = np.asarray(labels).astype(np.int64)
    if labels.ndim != 2:
        raise ValueError(f'colorize_labels expects an (H, W) map, got shape {labels.shape}')
    valid = labels != ignore_index
    if (labels[valid] < 0).any():
        raise ValueError(f'colorize_labels: negative labels {np.unique(labels[labels < 0])}')
    num_classes = int(labels[valid].max()) + 1 if valid.any() else 1
    colors = complete_palette(palette, num_classes)
    out = np.zeros(labels.shape + (3, ), dtype=np.uint8)
    out[valid] = colors[labels[valid]]
    return out


def depth_range(gt: np.ndarray) -> Tuple[float, float]:
    """(min, max) of the valid (finite, > 0) ground-truth depth; (0, 1) if none."""
    gt = np.asarray(gt)
    valid = np.isfinite(gt) & (gt > 0)
    if not valid.any():
        return 0., 1.
    return float(gt[valid].min()), float(gt[valid].max())


def colorize_depth(depth: np.ndarray, value_range: Tuple[float, float]) -> np.ndarray:
    """(H, W) depth -> turbo RGB over ``value_range``; invalid (<= 0, nan) is black.

    Give the gt and the prediction the same ``value_range`` (from the valid
    gt, :func:`depth_range`) so equal colours mean equal depth.
    """
    depth = np.asarray(depth, dtype=np.float32)
    low, high = value_range
    scaled = np.clip((np.nan_to_num(depth) - low) / max(high - low, 1e-6), 0, 1)
    bgr = cv2.applyColorMap(np.round(scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    out = np.ascontiguousarray(bgr[..., ::-1])
    out[~(np.isfinite(depth) & (depth > 0))] = IGNORE_COLOR
    return out


def colorize_normals(normals: np.ndarray) -> np.ndarray:
    """(3, H, W) unit normals -> RGB (n + 1) / 2 * 255; the zero vector is black."""
    normals = np.asarray(normals, dtype=np.float32)
    if normals.ndim != 3 or normals.shape[0] != 3:
        raise ValueError(f'colorize_normals expects a (3, H, W) map, got shape {normals.shape}')
    out = np.round((np.clip(normals, -1, 1) + 1) / 2 * 255).astype(np.uint8)
    out = np.ascontiguousarray(out.transpose(1, 2, 0))
    out[np.abs(normals).sum(0) == 0] = IGNORE_COLOR
    return out


def colorize_probability(prob: np.ndarray, ignore: Optional[np.ndarray] = None) -> np.ndarray:
    """(H, W) probability or binary gt in [0, 1] -> inferno heat map RGB.

    ``ignore`` (H, W) bool marks pixels drawn in :data:`BINARY_IGNORE_COLOR`.
    """
    scaled = np.round(np.clip(np.asarray(prob, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    out = np.ascontiguousarray(cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)[..., ::-1])
    if ignore is not None:
        out[ignore] = BINARY_IGNORE_COLOR
    return out
