"""Speed of the SEISM-protocol boundary evaluation (the costly part of eval).

Generates a realistic set: piecewise-constant label maps (random Voronoi
regions, like object and surface layouts) at NYUD-v2's 480x640, their 1-pixel
boundaries as ground truth, and soft predictions made of the boundaries
displaced by a few pixels, blurred, partly missed, plus texture-like noise.
It evaluates them with ``--workers`` processes at ``--thresholds`` thresholds
and prints images/s and the projected time for the 654 NYUD-v2 val images.

Example:
    python tools/benchmarks/bench_boundary_eval.py --num-images 40 --workers 2
"""
import argparse
import time
from multiprocessing import Pool
from typing import Tuple

import numpy as np
from scipy.ndimage import gaussian_filter, map_coordinates
from scipy.spatial import cKDTree

from mmmtl.evaluation.functional import boundary_counts, boundary_metrics

NYUD_VAL_IMAGES = 654


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Benchmark the boundary evaluation')
    parser.add_argument('--num-images', type=int, default=40)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--thresholds', type=int, default=99)
    parser.add_argument('--size', type=int, nargs=2, default=[480, 640])
    parser.add_argument('--max-dist', type=float, default=0.011)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def make_pair(seed: int, size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """A (soft prediction, boolean gt boundary) pair of one image."""
    rng = np.random.default_rng(seed)
    height, width = size
    centres = rng.random((rng.integers(15, 40), 2)) * (height, width)
    rows, cols = np.mgrid[0:height, 0:width]
    _, labels = cKDTree(centres).query(np.stack([rows.ravel(), cols.ravel()], 1))
    labels = labels.reshape(height, width)
    gt = np.zeros((height, width), bool)
    gt[:-1] |= labels[:-1] != labels[1:]
    gt[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    # prediction: boundaries displaced by a smooth random field, some missed, blurred
    shift_r = gaussian_filter(rng.normal(size=(height, width)), 20) * 60
    shift_c = gaussian_filter(rng.normal(size=(height, width)), 20) * 60
    moved = map_coordinates(gt.astype(np.float32), [rows + shift_r, cols + shift_c], order=1)
    keep = gaussian_filter(rng.random((height, width)), 8) > 0.47
    soft = gaussian_filter(moved * keep, 1.2) * 3
    texture = gaussian_filter(rng.random((height, width)), 2) * 0.25
    return np.clip(soft + texture * rng.random((height, width)), 0, 1), gt


def evaluate_one(job):
    seed, size, thresholds, max_dist = job
    pred, gt = make_pair(seed, size)
    start = time.perf_counter()
    counts = boundary_counts(pred, gt, max_dist, thresholds)
    return counts, time.perf_counter() - start


def main() -> None:
    args = parse_args()
    jobs = [(args.seed + i, tuple(args.size), args.thresholds, args.max_dist)
            for i in range(args.num_images)]
    evaluate_one(jobs[0])  # compile the numba kernels once (cached on disk)
    start = time.perf_counter()
    if args.workers > 1:
        with Pool(args.workers) as pool:
            results = pool.map(evaluate_one, jobs, chunksize=1)
    else:
        results = [evaluate_one(job) for job in jobs]
    wall = time.perf_counter() - start
    counts = np.stack([r[0] for r in results])
    per_image = np.mean([r[1] for r in results])
    metrics = boundary_metrics(counts)
    print(f'images: {args.num_images} of {args.size[0]}x{args.size[1]}, '
          f'{args.thresholds} thresholds, workers: {args.workers}')
    eval_rate = args.workers / per_image
    print(f'wall time (generation + evaluation): {wall:.1f} s')
    print(f'boundary_counts: {per_image:.2f} s per image and worker')
    print(f'throughput (evaluation): {eval_rate:.2f} images/s with {args.workers} workers')
    print(f'projected NYUD-v2 val ({NYUD_VAL_IMAGES} images): '
          f'{NYUD_VAL_IMAGES / eval_rate / 60:.1f} min')
    print(f'odsF {100 * metrics["odsF"]:.2f}  oisF {100 * metrics["oisF"]:.2f}  '
          f'AP {100 * metrics["AP"]:.2f}')


if __name__ == '__main__':
    main()
