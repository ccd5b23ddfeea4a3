"""Evaluation functions against brute-force / closed-form references."""
import itertools

import numpy as np
import pytest
from label_maps import generated_label_maps, reference_band
from scipy.optimize import linear_sum_assignment
from skimage.morphology import thin as skimage_thin

from mmmtl.evaluation.functional import (
    average_precision,
    boundary_counts,
    correspond_pixels,
    delta_m,
    depth_metrics,
    depth_statistics,
    miou_from_confusion,
    normal_metrics,
    normal_statistics,
    ods_f,
    ois_f,
    pixel_accuracy,
    saliency_metrics,
    saliency_statistics,
    semseg_confusion,
    thin,
)
from mmmtl.evaluation.functional.bipartite_matching import maximum_matching_size


def test_miou_hand_computed():
    gt = np.array([[0, 0, 1], [1, 2, 255]])
    pred = np.array([[0, 1, 1], [1, 0, 2]])
    conf = semseg_confusion(pred, gt, num_classes=4)
    # class 0: tp 1, fp 1 (pixel (1,1)), fn 1 -> 1/3; class 1: tp 2, fp 1 -> 2/3;
    # class 2: tp 0, fn 1 -> 0; class 3 absent -> 0 ('zero') or NaN ('nan')
    assert miou_from_confusion(conf) == pytest.approx((1 / 3 + 2 / 3 + 0 + 0) / 4)
    assert miou_from_confusion(conf, absent='nan') == pytest.approx((1 / 3 + 2 / 3 + 0) / 3)
    assert pixel_accuracy(conf) == pytest.approx(3 / 5)


def test_miou_pools_over_dataset_not_per_image():
    rng = np.random.default_rng(0)
    preds = [rng.integers(0, 3, (5, 6)) for _ in range(3)]
    gts = [rng.integers(0, 3, (5, 6)) for _ in range(3)]
    conf = sum(semseg_confusion(p, g, 3) for p, g in zip(preds, gts))
    p_all, g_all = np.concatenate([p.ravel() for p in preds]), np.concatenate(
        [g.ravel() for g in gts])
    ious = [((p_all == c) & (g_all == c)).sum() / ((p_all == c) | (g_all == c)).sum()
            for c in range(3)]
    assert miou_from_confusion(conf) == pytest.approx(np.mean(ious))


def test_semseg_class_out_of_range_is_an_error():
    with pytest.raises(ValueError, match='predicted class 5'):
        semseg_confusion(np.full((2, 2), 5), np.zeros((2, 2), int), 4)
    with pytest.raises(ValueError, match='ground-truth class 9'):
        semseg_confusion(np.zeros((2, 2), int), np.full((2, 2), 9), 4)


def test_depth_rmse_is_pooled_over_valid_pixels():
    rng = np.random.default_rng(1)
    preds = [rng.random((4, 5)) * 5 - 0.5 for _ in range(3)]
    gts = [rng.random((4, 5)) * 5 for _ in range(3)]
    gts[0][0, :] = 0
    gts[1][1, 1] = np.nan
    total = {}
    for p, g in zip(preds, gts):
        for key, value in depth_statistics(p, g).items():
            total[key] = total.get(key, 0) + value
    errors = [(max(p[i, j], 0) - g[i, j])**2 for p, g in zip(preds, gts)
              for i, j in itertools.product(range(4), range(5))
              if np.isfinite(g[i, j]) and g[i, j] > 0]
    assert depth_metrics(total)['rmse'] == pytest.approx(np.sqrt(np.mean(errors)))
    with pytest.raises(ValueError, match='no valid depth pixel'):
        depth_metrics(depth_statistics(np.ones((2, 2)), np.zeros((2, 2))))


def test_normal_angles_against_acos_reference():
    rng = np.random.default_rng(2)
    pred = rng.normal(size=(3, 6, 7))
    gt = rng.normal(size=(3, 6, 7))
    gt /= np.linalg.norm(gt, axis=0, keepdims=True)
    gt[:, 0, 0] = 0  # invalid
    stats = normal_statistics(pred, gt)
    p = pred / np.linalg.norm(pred, axis=0, keepdims=True)
    cos = np.clip((p * gt).sum(0), -1, 1)
    angles = np.degrees(np.arccos(cos))[np.abs(gt).sum(0) > 0]
    metrics = normal_metrics(stats)
    assert metrics['mean'] == pytest.approx(angles.mean(), abs=1e-6)
    assert metrics['rmse'] == pytest.approx(np.sqrt((angles**2).mean()), abs=1e-6)
    assert metrics['median'] == pytest.approx(np.median(angles), abs=0.05)
    assert metrics['11.25'] == pytest.approx(100 * (angles < 11.25).mean())


def test_saliency_maxf_against_reference():
    rng = np.random.default_rng(3)
    probs = [rng.random((6, 6)) for _ in range(2)]
    gts = [(rng.random((6, 6)) > 0.6).astype(int) for _ in range(2)]
    gts[0][0, 0] = 255
    total = None
    for p, g in zip(probs, gts):
        s = saliency_statistics(p, g)
        total = s if total is None else {k: total[k] + s[k] for k in s}
    best = 0
    for t in np.arange(0.05, 0.951, 0.05):
        tp = fp = fn = 0
        for p, g in zip(probs, gts):
            valid = g != 255
            pp, gg = p[valid] > t, g[valid] == 1
            tp += (pp & gg).sum()
            fp += (pp & ~gg).sum()
            fn += (~pp & gg).sum()
        prec, rec = tp / max(tp + fp, 1), tp / max(tp + fn, 1)
        if prec + rec > 0:
            best = max(best, 1.3 * prec * rec / (0.3 * prec + rec))
    assert saliency_metrics(total)['maxF'] == pytest.approx(best)


def _brute_force_matching(pred, gt, radius):
    p, g = np.argwhere(pred), np.argwhere(gt)
    if len(p) == 0 or len(g) == 0:
        return 0
    dist = np.linalg.norm(p[:, None] - g[None], axis=-1)
    cost = np.where(dist <= radius, 0, 1)
    rows, cols = linear_sum_assignment(cost)
    return int((cost[rows, cols] == 0).sum())


@pytest.mark.parametrize('seed', range(12))
def test_matching_is_an_exact_maximum_matching(seed):
    rng = np.random.default_rng(seed)
    pred = rng.random((12, 15)) > 0.8
    gt = rng.random((12, 15)) > 0.85
    max_dist = 0.08
    count, _ = correspond_pixels(pred, gt, max_dist)
    assert count == _brute_force_matching(pred, gt, max_dist * np.hypot(12, 15))


def test_matching_beats_distance_transform_shortcut():
    # two predicted pixels next to one gt pixel: only one can be matched
    pred = np.zeros((5, 5), bool)
    pred[2, 1] = pred[2, 3] = True
    gt = np.zeros((5, 5), bool)
    gt[2, 2] = True
    assert correspond_pixels(pred, gt, 0.3)[0] == 1


def test_hopcroft_karp_on_random_graphs():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n_left, n_right = rng.integers(1, 12, size=2)
        adj = rng.random((n_left, n_right)) < 0.3
        left, right = np.nonzero(adj)
        rows, cols = linear_sum_assignment(~adj)
        assert maximum_matching_size(left, right, n_left, n_right) == adj[rows, cols].sum()


def test_thin_reduces_thick_lines_to_one_pixel():
    mask = np.zeros((9, 20), bool)
    mask[3:6, 2:18] = True  # a 3-pixel-thick horizontal bar
    thinned = thin(mask)
    assert thinned.sum() > 0
    assert (thinned.sum(axis=0) <= 1).all()  # one pixel per column
    assert (thinned <= mask).all()
    line = np.zeros((5, 10), bool)
    line[2, 1:9] = True
    assert np.array_equal(thin(line), line)  # already thin


def _thinning_masks():
    rng = np.random.default_rng(0)
    masks = [reference_band(label_map) for label_map in generated_label_maps()]
    masks += [rng.random((37, 53)) < density for density in (0.1, 0.3, 0.5, 0.7, 0.9)]
    smooth = np.kron(rng.normal(size=(20, 27)), np.ones((3, 3)))  # thick ridges
    masks += [smooth > level for level in (-0.5, 0., 0.5, 1.)]
    return masks


@pytest.mark.parametrize('index', range(21))
def test_thin_is_skimage_thin(index):
    """The evaluation's (sparse, compiled) thinning is skimage's / MATLAB's, pixel for pixel."""
    mask = _thinning_masks()[index]
    np.testing.assert_array_equal(thin(mask), skimage_thin(mask))


def test_boundary_counts_thin_prediction_and_gt_like_skimage():
    """sumP / sumR are the pixels of skimage's thinning of the NMS'd prediction
    above each threshold and of the ground truth."""
    from mmmtl.evaluation.functional.boundary import edge_nms
    rng = np.random.default_rng(1)
    gt = reference_band(generated_label_maps()[9])  # 2-pixel-wide band: thinned
    pred = np.clip(gt * 0.7 + rng.random(gt.shape) * 0.5, 0, 1)
    thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    counts = boundary_counts(pred, gt, max_dist=0.0075, thresholds=thresholds)
    suppressed = edge_nms(pred)
    assert counts[:, 1].tolist() == [skimage_thin(gt).sum()] * len(thresholds)
    assert counts[:, 3].tolist() == [skimage_thin(suppressed > t).sum() for t in thresholds]


def test_perfect_boundary_prediction_gives_ods_one():
    gt = np.zeros((40, 50), bool)
    gt[10, 5:45] = True
    gt[10:35, 25] = True
    counts = boundary_counts(gt.astype(float), gt, max_dist=0.0075, thresholds=9, nms=False)
    assert ods_f(counts) == pytest.approx(1.0)
    assert ois_f(counts[None]) == pytest.approx(1.0)
    assert average_precision(counts) > 0.9


def test_boundary_counts_hand_computed():
    gt = np.zeros((20, 20), bool)
    gt[10, 2:18] = True  # 16 gt pixels
    pred = np.zeros((20, 20))
    pred[11, 2:10] = 0.9  # 8 close, correct pixels
    pred[2, 2:6] = 0.6  # 4 false positives far away
    counts = boundary_counts(pred, gt, max_dist=0.05, thresholds=[0.5, 0.7], nms=False)
    assert counts.tolist() == [[8, 16, 8, 12], [8, 16, 8, 8]]


def test_bad_boundary_input():
    with pytest.raises(ValueError, match='NaN'):
        boundary_counts(np.full((4, 4), np.nan), np.zeros((4, 4)))
    with pytest.raises(ValueError, match='shape'):
        boundary_counts(np.zeros((4, 4)), np.zeros((4, 5)))


def test_delta_m_directions():
    results = {'semseg/mIoU': 44.0, 'depth/rmse': 0.55}
    refs = {'semseg/mIoU': 40.0, 'depth/rmse': 0.50}
    # +10% on mIoU, -10% on rmse (worse) -> 0
    assert delta_m(results, refs) == pytest.approx(0.0)
    # paper, Table 1, HRNet18 MT baseline vs ST: -1.89 (the one row that follows)
    mt = {'semseg/mIoU': 36.35, 'depth/rmse': 0.6284, 'normal/mean': 21.02, 'edge/odsF': 76.36}
    st = {'semseg/mIoU': 38.02, 'depth/rmse': 0.6104, 'normal/mean': 20.94, 'edge/odsF': 76.22}
    assert delta_m(mt, st) == pytest.approx(-1.89, abs=0.01)
    with pytest.raises(KeyError, match='no result'):
        delta_m({}, refs)
