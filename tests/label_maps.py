"""Generated PASCAL-Context-like ``LabelMap``s for the boundary tests.

Twelve (H, W) uint16 maps (the dtype of ``LabelMap`` in the ``.mat`` files)
with the structures where boundary derivations differ: 1-pixel lines and
islands, regions touching each other and the image borders, T / X junctions,
checkerboards and diagonal stripes, random Voronoi cells and blobs.
"""
from typing import List

import numpy as np

SHAPE = (61, 83)  # odd sizes on purpose


def _voronoi(rng: np.random.Generator, shape, num_cells: int) -> np.ndarray:
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    seeds = rng.uniform((0, 0), shape, size=(num_cells, 2))
    dist = (rows[..., None] - seeds[:, 0])**2 + (cols[..., None] - seeds[:, 1])**2
    labels = rng.choice(np.arange(1, 460), size=num_cells, replace=False)
    return labels[dist.argmin(-1)]


def generated_label_maps(seed: int = 0) -> List[np.ndarray]:
    """The twelve maps, identical for the same seed."""
    rng = np.random.default_rng(seed)
    height, width = SHAPE
    rows, cols = np.mgrid[0:height, 0:width]
    maps = []

    halves = np.full(SHAPE, 3)
    halves[:, width // 2:] = 17
    maps.append(halves)

    nested = np.full(SHAPE, 5)  # rectangles reaching the borders
    nested[:40, :50] = 9
    nested[10:30, 20:83] = 22
    nested[50:, 70:] = 284
    maps.append(nested)

    disks = np.full(SHAPE, 0)  # overlapping / touching disks, one cut by the border
    for (r, c, radius), label in zip([(20, 20, 12), (20, 44, 12), (45, 30, 15), (5, 78, 10)],
                                     (31, 59, 72, 416)):
        disks[(rows - r)**2 + (cols - c)**2 <= radius**2] = label
    maps.append(disks)

    lines = np.full(SHAPE, 2)  # 1-pixel structures, also on the image border
    lines[30, :] = 23
    lines[:, 41] = 25
    lines[0, :] = 45
    lines[:, -1] = 65
    lines[rows == cols] = 98
    lines[10, 10] = 113  # an island
    lines[50, 60:62] = 207
    maps.append(lines)

    checker = np.full(SHAPE, 8)  # 1x1 checkerboard, every pixel on a boundary
    block = (rows[10:40, 15:60] + cols[10:40, 15:60]) % 2
    checker[10:40, 15:60] = np.where(block, 258, 308)
    maps.append(checker)

    checker2 = np.where(((rows // 2) + (cols // 2)) % 2, 347, 368)  # 2x2 cells
    maps.append(checker2)

    junctions = np.full(SHAPE, 1)  # T and X junctions
    junctions[:, 40:] = 2
    junctions[30:, :40] = 3
    junctions[45:, 60:] = 4
    junctions[:15, 70:] = 5
    maps.append(junctions)

    stripes = ((rows + cols) // rng.integers(1, 4, size=SHAPE).clip(1)) % 3 + 400
    maps.append(stripes)  # diagonal stripes of 1-3 pixels

    islands = np.full(SHAPE, 60)  # single pixels and 2x2 squares
    picks = rng.integers(0, height * width, size=80)
    islands.flat[picks] = rng.integers(61, 70, size=80)
    islands[20:22, 30:32] = 71
    islands[0, 0] = islands[-1, -1] = islands[0, -1] = islands[-1, 0] = 72
    maps.append(islands)

    maps.append(_voronoi(rng, SHAPE, 9))
    maps.append(_voronoi(rng, SHAPE, 40))

    noise = rng.normal(size=(height // 4 + 2, width // 4 + 2))  # smooth random blobs
    noise = np.kron(noise, np.ones((4, 4)))[:height, :width]
    blobs = np.digitize(noise, [-0.8, -0.2, 0.3, 0.9]) * 50 + 7
    maps.append(blobs)
    return [m.astype(np.uint16) for m in maps]


def reference_band(label_map: np.ndarray) -> np.ndarray:
    """Pixels where the 4-neighbour Laplacian of ``label_map`` is non-zero.

    Written with numpy, independently of OpenCV: ``cv2.Laplacian`` (kernel
    size 1) with its default border, which mirrors without repeating the edge
    pixel (OpenCV's ``BORDER_REFLECT_101`` is numpy's ``'reflect'``).
    """
    padded = np.pad(label_map.astype(np.float64), 1, mode='reflect')
    laplacian = (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:] -
                 4 * padded[1:-1, 1:-1])
    return laplacian != 0
