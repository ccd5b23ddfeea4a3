"""Losses of ATRC's initial predictions: depth bins and normal clusters."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmtl.models.losses import DepthBinningCrossEntropyLoss, NormalClusterCrossEntropyLoss
from mmmtl.models.losses.depth_binning_ce_loss import depth_to_bins
from mmmtl.models.losses.normal_cluster_ce_loss import fibonacci_sphere, nearest_centroid


def test_depth_bins_are_log_spaced_and_clamped():
    ratio = (10.0 / 0.7)**(1 / 40)
    depth = torch.tensor([0.1, 0.7, 0.7 * ratio * 1.001, 0.7 * ratio**20 * 1.001, 9.99, 10., 50.])
    assert depth_to_bins(depth, 40, 0.7, 10.0).tolist() == [0, 0, 1, 20, 39, 39, 39]


def test_depth_binning_loss_is_cross_entropy_on_valid_pixels_only():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 40, 3, 4, generator=gen, requires_grad=True)
    depth = torch.rand(2, 1, 3, 4, generator=gen) * 8 + 0.5
    depth[0, 0, 0, :2] = 0  # missing depth
    loss = DepthBinningCrossEntropyLoss(loss_weight=2.0)(logits, depth)
    total, count = 0., 0
    for n in range(2):
        for y in range(3):
            for x in range(4):
                d = float(depth[n, 0, y, x])
                if d <= 0:
                    continue
                label = min(max(math.floor(40 * math.log(d / 0.7) / math.log(10 / 0.7)), 0), 39)
                total += float(-F.log_softmax(logits[n, :, y, x], 0)[label])
                count += 1
    assert float(loss) == pytest.approx(2.0 * total / count, rel=1e-5)
    loss.backward()
    assert torch.all(logits.grad[0, :, 0, :2] == 0)


def test_depth_binning_loss_checks_channels_and_range():
    with pytest.raises(ValueError, match='40 channels, num_bins is 20'):
        DepthBinningCrossEntropyLoss(num_bins=20)(torch.zeros(1, 40, 2, 2), torch.ones(1, 1, 2, 2))
    with pytest.raises(ValueError, match='min_depth < max_depth'):
        DepthBinningCrossEntropyLoss(min_depth=5., max_depth=1.)


def test_fibonacci_centroids_are_unit_and_spread_over_the_sphere():
    centroids = fibonacci_sphere(40)
    torch.testing.assert_close(centroids.norm(dim=1), torch.ones(40))
    distances = torch.cdist(centroids, centroids) + 10 * torch.eye(40)
    assert distances.min() > 0.4  # 40 points: no two nearly the same direction
    assert centroids.mean(dim=0).norm() < 0.05  # no hemisphere favoured


def test_nearest_centroid_matches_brute_force_for_non_unit_centroids():
    gen = torch.Generator().manual_seed(1)
    centroids = torch.randn(7, 3, generator=gen) * 0.7
    normals = F.normalize(torch.randn(2, 3, 4, 5, generator=gen), dim=1)
    labels = nearest_centroid(normals, centroids)
    flat = normals.permute(0, 2, 3, 1).reshape(-1, 3)
    expected = torch.cdist(flat, centroids).argmin(dim=1).view(2, 4, 5)
    assert torch.equal(labels, expected)


def test_normal_cluster_loss_ignores_zero_normals(tmp_path):
    gen = torch.Generator().manual_seed(2)
    centroids = F.normalize(torch.randn(5, 3, generator=gen), dim=1)
    path = tmp_path / 'centroids.npy'
    np.save(path, centroids.numpy())
    loss_fn = NormalClusterCrossEntropyLoss(num_clusters=5, centroids=str(path), loss_weight=10.)
    logits = torch.randn(1, 5, 2, 3, generator=gen)
    normals = F.normalize(torch.randn(1, 3, 2, 3, generator=gen), dim=1)
    normals[0, :, 1, 2] = 0
    labels = torch.cdist(normals[0].permute(1, 2, 0).reshape(-1, 3), centroids).argmin(1)
    per_pixel = F.cross_entropy(logits[0].permute(1, 2, 0).reshape(-1, 5), labels,
                                reduction='none')
    assert float(loss_fn(logits, normals)) == pytest.approx(10 * float(per_pixel[:5].mean()),
                                                            rel=1e-5)


def test_normal_cluster_loss_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing.npy'):
        NormalClusterCrossEntropyLoss(centroids=str(tmp_path / 'missing.npy'))
    with pytest.raises(ValueError, match=r'shape \(3, 3\), expected \(40, 3\)'):
        NormalClusterCrossEntropyLoss(centroids=[[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    with pytest.raises(ValueError, match='3 channels, num_clusters is 40'):
        NormalClusterCrossEntropyLoss()(torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2))
