import math
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.registry import MODELS

from .utils import masked_mean


def fibonacci_sphere(num_points: int) -> torch.Tensor:
    """``num_points`` nearly uniform unit vectors on the sphere, (num_points, 3)."""
    index = torch.arange(num_points, dtype=torch.float64) + 0.5
    z = 1 - 2 * index / num_points
    radius = torch.sqrt(1 - z * z)
    phi = index * math.pi * (3 - math.sqrt(5))
    return torch.stack([radius * torch.cos(phi), radius * torch.sin(phi), z], dim=1).float()


def nearest_centroid(normals: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the closest centroid (Euclidean) of every normal.

    Args:
        normals: (N, 3, H, W).
        centroids: (K, 3).

    Returns:
        (N, H, W) int64.
    """
    # argmin |x - c|^2 = argmax 2 x.c - |c|^2
    scores = 2 * torch.einsum('nchw,kc->nkhw', normals, centroids)
    scores = scores - centroids.pow(2).sum(dim=1).view(1, -1, 1, 1)
    return scores.argmax(dim=1)


@MODELS.register_module()
class NormalClusterCrossEntropyLoss(nn.Module):
    """Surface normals as classification over centroids (ATRC's initial normal prediction).

    Each valid gt normal (non-zero vector) is labelled with its nearest
    centroid. ATRC clusters the training normals with k-means into 40
    centroids; give such centroids with ``centroids`` (a ``.npy`` file or a
    list of (x, y, z)), or leave it ``None`` for ``num_clusters`` nearly
    uniform directions on the sphere (Fibonacci lattice).

    Args:
        num_clusters: Number of classes (= channels of the logits).
        centroids: ``None``, a path to a ``(K, 3)`` ``.npy`` array, or a
            ``(K, 3)`` sequence.
        loss_weight: Task weight.
    """

    task_kinds = ('normal', )

    def __init__(self, num_clusters: int = 40,
                 centroids: Optional[Union[str, Sequence[Sequence[float]]]] = None,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if centroids is None:
            table = fibonacci_sphere(num_clusters)
        else:
            source = centroids
            if isinstance(centroids, str):
                try:
                    centroids = np.load(centroids)
                except OSError as error:
                    raise FileNotFoundError(f'NormalClusterCrossEntropyLoss: cannot read '
                                            f'centroids file {source!r}: {error}') from None
            table = torch.as_tensor(np.asarray(centroids, dtype=np.float32))
            if table.dim() != 2 or table.shape != (num_clusters, 3):
                raise ValueError(f'NormalClusterCrossEntropyLoss: centroids {source!r} have '
                                 f'shape {tuple(table.shape)}, expected ({num_clusters}, 3).')
        self.num_clusters = num_clusters
        self.loss_weight = loss_weight
        self.register_buffer('centroids', table, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """logits: (N, num_clusters, H, W); target: (N, 3, H, W) normals, 0 = invalid."""
        if logits.shape[1] != self.num_clusters:
            raise ValueError(f'NormalClusterCrossEntropyLoss: logits have {logits.shape[1]} '
                             f'channels, num_clusters is {self.num_clusters}.')
        valid = target.abs().sum(dim=1) > 0
        labels = nearest_centroid(target.to(self.centroids.dtype), self.centroids)
        per_pixel = F.cross_entropy(logits, labels, reduction='none')
        return self.loss_weight * masked_mean(per_pixel, valid)
