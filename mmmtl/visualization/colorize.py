"""Colour maps of every task's maps, as (H, W, 3) uint8 RGB images."""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

IGNORE_INDEX = 255


def default_palette(num_classes: int, seed: int = 7) -> np.ndarray:
    """A fixed random palette (num_classes, 3) uint8, class 0 kept dark blue."""
    rng = np.random.RandomState(seed)
    palette = rng.randint(40, 256, size=(max(num_classes, 1), 3)).astype(np.uint8)
    palette[0] = (20, 20, 120)
    return palette


def colorize_labels(labels: np.ndarray, palette: Optional[Sequence] = None,
                    ignore_index: int = IGNORE_INDEX) -> np.ndarray:
    """(H, W) class map -> RGB; ``ignore_index`` is black."""
    labels = np.asarray(labels).astype(np.int64)
    valid = labels != ignore_index
    num = int(labels[valid].max()) + 1 if valid.any() else 1
    palette = np.asarray(palette, dtype=np.uint8) if palette is not None else None
    if palette is None or len(palette) < num:
        palette = default_palette(max(num, 0 if palette is None else len(palette)))
    out = np.zeros(labels.shape + (3, ), dtype=np.uint8)
    out[valid] = palette[labels[valid]]
    return out


def depth_range(gt: np.ndarray) -> Tuple[float, float]:
    """(min, max) of the valid (finite, > 0) ground-truth depth."""
    valid = np.isfinite(gt) & (gt > 0)
    if not valid.any():
        return 0., 1.
    return float(gt[valid].min()), float(gt[valid].max())


def colorize_depth(depth: np.ndarray, value_range: Tuple[float, float]) -> np.ndarray:
    """(H, W) depth -> turbo RGB over ``value_range``; invalid (0) is black."""
    low, high = value_range
    scaled = np.clip((np.nan_to_num(depth) - low) / max(high - low, 1e-6), 0, 1)
    bgr = cv2.applyColorMap(np.round(scaled * 255).astype(np.uint8), cv2.COLORMAP_TURBO)
    out = bgr[..., ::-1].copy()
    out[~(np.isfinite(depth) & (depth > 0))] = 0
    return out


def colorize_normals(normals: np.ndarray) -> np.ndarray:
    """(3, H, W) unit normals -> RGB (n + 1) / 2; the zero vector is black."""
    normals = np.asarray(normals, dtype=np.float32)
    out = np.round((np.clip(normals, -1, 1) + 1) / 2 * 255).astype(np.uint8).transpose(1, 2, 0)
    out[np.abs(normals).sum(0) == 0] = 0
    return np.ascontiguousarray(out)


def colorize_probability(prob: np.ndarray, ignore: Optional[np.ndarray] = None) -> np.ndarray:
    """(H, W) map in [0, 1] (probability or binary gt) -> heat map RGB."""
    scaled = np.round(np.clip(np.asarray(prob, dtype=np.float32), 0, 1) * 255).astype(np.uint8)
    out = cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)[..., ::-1].copy()
    if ignore is not None:
        out[ignore] = (80, 80, 80)
    return out
