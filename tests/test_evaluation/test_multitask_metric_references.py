"""MultiTaskMetric against independent references, as mmengine's Evaluator drives it.

Every reference below is plain numpy written from the metric definitions of
the multi-task literature (ASTMT / MTI-Net / ATRC evaluation code: statistics
pooled over every valid pixel of the dataset, not averaged per image); none of
them calls ``mmmtl.evaluation``. The data hold what real data hold: label 255
in semseg / human parts / saliency / edge, depth 0, zero-norm normals, and a
human-parts map that is ignored as a whole (an image without a person).
"""
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData

from mmmtl.evaluation import MultiTaskMetric
from mmmtl.structures import MultiTaskDataSample

IGNORE = 255
SIZE = (20, 24)
NUM_IMAGES = 5
BATCH_SIZE = 3  # the val loop calls process() once per batch
SEMSEG_CLASSES, PARTS_CLASSES = 6, 7
SAL_THRESHOLDS = np.arange(1, 20) * 0.05  # 0.05 ... 0.95
BETA_SQ = 0.3


# ------------------------------------------------------------------ data
def make_maps(seed: int = 0) -> list:
    """Per image, a dict of numpy gt / pred maps of the six tasks."""
    rng = np.random.default_rng(seed)
    height, width = SIZE
    images = []
    for index in range(NUM_IMAGES):
        maps = {}
        for task, classes in (('semseg', SEMSEG_CLASSES), ('human_parts', PARTS_CLASSES)):
            # class 0 is frequent, so that counting ignored pixels as 0 shows
            gt = rng.choice(classes, size=SIZE, p=[0.4] + [0.6 / (classes - 1)] *
                            (classes - 1))
            pred = np.where(rng.random(SIZE) < 0.6, gt, rng.integers(0, classes, SIZE))
            gt[rng.random(SIZE) < 0.2] = IGNORE
            maps[task] = (gt, pred)
        # classes 4 and 5 never occur in semseg gt or prediction: IoU 0 each
        for array in maps['semseg']:
            array[(array >= 4) & (array != IGNORE)] = 3
        if index == 1:  # no person in this image: every part pixel ignored
            maps['human_parts'][0][:] = IGNORE

        depth = rng.uniform(0.5, 5.0, SIZE)
        depth[rng.random(SIZE) < 0.15] = 0.  # missing depth
        pred_depth = np.where(depth > 0, depth, 2.0) * np.exp(rng.normal(0, 0.3, SIZE))
        maps['depth'] = (depth.astype(np.float32), pred_depth.astype(np.float32))

        normal = rng.normal(size=(3, ) + SIZE)
        normal /= np.linalg.norm(normal, axis=0, keepdims=True)
        normal[:, rng.random(SIZE) < 0.15] = 0.  # invalid normals
        noise = rng.normal(0, 0.4, (3, ) + SIZE)
        pred_normal = np.where(np.linalg.norm(normal, axis=0) > 0, normal, 1.) + noise
        # predictions not unit length
        maps['normal'] = (normal.astype(np.float32), pred_normal.astype(np.float32))

        sal = (rng.random(SIZE) < 0.4).astype(np.int64)
        prob = np.clip(0.45 * sal + 0.55 * rng.random(SIZE), 0, 1)
        sal[rng.random(SIZE) < 0.15] = IGNORE
        maps['saliency'] = (sal, prob.astype(np.float32))
        images.append(maps)
    return images


GT_PRED_KEYS = dict(semseg=('gt_sem_seg', 'pred_sem_seg'),
                    human_parts=('gt_human_parts', 'pred_human_parts'),
                    depth=('gt_depth', 'pred_depth'), normal=('gt_normal', 'pred_normal'),
                    saliency=('gt_saliency', 'pred_saliency'), edge=('gt_edge', 'pred_edge'))


def to_sample(maps: dict, index: int) -> MultiTaskDataSample:
    sample = MultiTaskDataSample(metainfo=dict(img_path=f'/data/img_{index}.png'))
    for task, (gt, pred) in maps.items():
        gt_key, pred_key = GT_PRED_KEYS[task]
        # the dtypes of the model and the loaders: int64 labels, float32 maps
        gt_t, pred_t = torch.from_numpy(gt), torch.from_numpy(pred)
        if gt_t.ndim == 2:
            gt_t, pred_t = gt_t[None], pred_t[None]
        setattr(sample, gt_key, PixelData(data=gt_t))
        setattr(sample, pred_key, PixelData(data=pred_t))
    return sample


def run_evaluator(images: list, **metric_kwargs) -> dict:
    """Evaluate like mmengine's ValLoop: Evaluator.process per batch, then evaluate."""
    tasks = list(images[0])
    metric = MultiTaskMetric(tasks=tasks, **metric_kwargs)
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = dict(num_classes=dict(semseg=SEMSEG_CLASSES,
                                                   human_parts=PARTS_CLASSES))
    samples = [to_sample(maps, i) for i, maps in enumerate(images)]
    for start in range(0, len(samples), BATCH_SIZE):
        evaluator.process(data_samples=samples[start:start + BATCH_SIZE], data_batch=dict())
    return evaluator.evaluate(len(samples))


# ------------------------------------------------------------------ references
def pooled(images: list, task: str, index: int) -> np.ndarray:
    """gt (index 0) or pred (index 1) of every image, pixels concatenated."""
    arrays = [maps[task][index] for maps in images]
    if arrays[0].ndim == 3:  # (3, H, W) -> (H*W, 3)
        return np.concatenate([a.reshape(3, -1).T for a in arrays])
    return np.concatenate([a.ravel() for a in arrays])


def reference_labels(images: list, task: str, num_classes: int) -> dict:
    gt, pred = pooled(images, task, 0), pooled(images, task, 1)
    valid = gt != IGNORE
    gt, pred = gt[valid], pred[valid]
    ious = []
    for c in range(num_classes):
        tp = np.sum((gt == c) & (pred == c))
        fp = np.sum((gt != c) & (pred == c))
        fn = np.sum((gt == c) & (pred != c))
        ious.append(tp / (tp + fp + fn) if tp + fp + fn > 0 else 0.)  # absent class: 0
    return {f'{task}/mIoU': 100 * np.mean(ious),
            f'{task}/pixel_acc': 100 * np.mean(gt == pred)}


def reference_depth(images: list) -> dict:
    gt, pred = pooled(images, 'depth', 0), pooled(images, 'depth', 1)
    valid = gt > 0
    t, p = gt[valid], pred[valid]
    return {
        'depth/rmse': np.sqrt(np.mean((p - t)**2)),
        'depth/abs_rel': np.mean(np.abs(p - t) / t),
        'depth/log_rmse': np.sqrt(np.mean((np.log(p) - np.log(t))**2)),
        'depth/delta1': 100 * np.mean(np.maximum(p / t, t / p) < 1.25),
    }


def reference_normal(images: list) -> dict:
    gt, pred = pooled(images, 'normal', 0), pooled(images, 'normal', 1)
    valid = np.linalg.norm(gt, axis=1) > 0
    t = gt[valid] / np.linalg.norm(gt[valid], axis=1, keepdims=True)
    p = pred[valid] / np.linalg.norm(pred[valid], axis=1, keepdims=True)
    angles = np.degrees(np.arccos(np.clip(np.sum(p * t, axis=1), -1, 1)))
    result = {'normal/mean': angles.mean(), 'normal/median': np.median(angles),
              'normal/rmse': np.sqrt(np.mean(angles**2))}
    for threshold in (11.25, 22.5, 30.0):
        result[f'normal/{threshold}'] = 100 * np.mean(angles < threshold)
    return result


def reference_saliency(images: list) -> dict:
    gt, prob = pooled(images, 'saliency', 0), pooled(images, 'saliency', 1)
    valid = gt != IGNORE
    gt, prob = gt[valid] == 1, prob[valid]
    f_scores = []
    for threshold in SAL_THRESHOLDS:
        positive = prob > threshold
        tp = np.sum(positive & gt)
        precision = tp / positive.sum() if positive.sum() else 0.
        recall = tp / gt.sum()
        denom = BETA_SQ * precision + recall
        f_scores.append((1 + BETA_SQ) * precision * recall / denom if denom else 0.)
    binary = prob > 0.5
    ious = [np.sum(binary & gt) / np.sum(binary | gt),
            np.sum(~binary & ~gt) / np.sum(~binary | ~gt)]
    return {'saliency/maxF': 100 * max(f_scores), 'saliency/mIoU': 100 * np.mean(ious)}


def reference_delta_m(metrics: dict, st_reference: dict) -> float:
    lower_is_better = {'depth/rmse', 'normal/mean'}
    gains = [(-1 if key in lower_is_better else 1) * (metrics[key] - ref) / ref
             for key, ref in st_reference.items()]
    return 100 * float(np.mean(gains))


# ------------------------------------------------------------------ tests
@pytest.fixture(scope='module')
def images():
    return make_maps()


@pytest.fixture(scope='module')
def metrics(images):
    return run_evaluator(images)


def test_data_exercise_every_ignore_rule(images):
    """The references below are only meaningful if the data hold ignored pixels."""
    for maps in images:
        assert (maps['semseg'][0] == IGNORE).mean() > 0.1
        assert (maps['saliency'][0] == IGNORE).mean() > 0.05
        assert (maps['depth'][0] == 0).mean() > 0.05
        assert (np.linalg.norm(maps['normal'][0], axis=0) == 0).mean() > 0.05
    assert (images[1]['human_parts'][0] == IGNORE).all()


@pytest.mark.parametrize('task,classes', [('semseg', SEMSEG_CLASSES),
                                          ('human_parts', PARTS_CLASSES)])
def test_label_tasks_match_reference(images, metrics, task, classes):
    expected = reference_labels(images, task, classes)
    for key, value in expected.items():
        assert metrics[key] == pytest.approx(value, rel=1e-9), key


def test_depth_matches_reference(images, metrics):
    for key, value in reference_depth(images).items():
        assert metrics[key] == pytest.approx(value, rel=1e-9), key


def test_normal_matches_reference(images, metrics):
    expected = reference_normal(images)
    for key, value in expected.items():
        # the median comes from 0.05-degree bins pooled over the dataset
        tolerance = dict(abs=0.05) if key == 'normal/median' else dict(rel=1e-6)
        assert metrics[key] == pytest.approx(value, **tolerance), key


def test_saliency_matches_reference(images, metrics):
    for key, value in reference_saliency(images).items():
        assert metrics[key] == pytest.approx(value, rel=1e-9), key


def test_every_logged_metric_has_a_reference(images, metrics):
    expected = {}
    expected.update(reference_labels(images, 'semseg', SEMSEG_CLASSES))
    expected.update(reference_labels(images, 'human_parts', PARTS_CLASSES))
    expected.update(reference_depth(images))
    expected.update(reference_normal(images))
    expected.update(reference_saliency(images))
    assert set(metrics) == set(expected)


def test_statistics_are_pooled_over_pixels_not_averaged_per_image(images, metrics):
    """The protocol pools pixels: a mean of per-image values is a different number."""
    per_image = np.mean([reference_depth([maps])['depth/rmse'] for maps in images])
    assert abs(per_image - metrics['depth/rmse']) > 1e-3


def test_delta_m_matches_reference(images, metrics):
    st_reference = {'semseg/mIoU': 40., 'human_parts/mIoU': 30., 'depth/rmse': 0.8,
                    'normal/mean': 25., 'saliency/maxF': 70.}
    with_dm = run_evaluator(images, st_reference=st_reference)
    assert with_dm['multitask/delta_m'] == pytest.approx(
        reference_delta_m(metrics, st_reference), rel=1e-9)


def test_ignored_pixels_do_not_change_any_metric(images, metrics):
    """Changing the prediction where the gt is ignored / invalid changes nothing."""
    rng = np.random.default_rng(5)
    changed = []
    for maps in images:
        new = {}
        for task, (gt, pred) in maps.items():
            pred = pred.copy()
            if task in ('semseg', 'human_parts', 'saliency'):
                noise = rng.integers(0, 3, gt.shape) if task != 'saliency' else \
                    rng.random(gt.shape)
                pred = np.where(gt == IGNORE, noise, pred).astype(pred.dtype)
            elif task == 'depth':
                pred = np.where(gt == 0, rng.uniform(0.1, 9, gt.shape), pred).astype(pred.dtype)
            elif task == 'normal':
                invalid = np.linalg.norm(gt, axis=0) == 0
                pred[:, invalid] = rng.normal(size=(3, int(invalid.sum())))
            new[task] = (gt, pred)
        changed.append(new)
    assert run_evaluator(changed) == pytest.approx(metrics, rel=1e-12)


# ------------------------------------------------------------------ boundaries
# Two 24x32 images computed by hand (diagonal 40 px; max_dist 0.04 -> 1.6 px,
# so 4- and 8-neighbours match, 2 px does not). Thresholds 0.25 / 0.5 / 0.75,
# no NMS; every structure is a 1-pixel line or an isolated pixel, which the
# SEISM thinning leaves as they are.
EDGE_THRESHOLDS = (0.25, 0.5, 0.75)


def edge_case_maps():
    height, width = 24, 32
    # image A: a 10-pixel gt line with a prediction one row below (0.9), an
    # isolated gt pixel between two predicted pixels (0.6, one-to-one: one
    # match), an 8-pixel false line (0.3), and a predicted line (0.9) inside
    # an ignored band.
    gt_a = np.zeros((height, width), np.int64)
    pred_a = np.zeros((height, width), np.float32)
    gt_a[8, 6:16] = 1
    pred_a[9, 6:16] = 0.9
    gt_a[12, 24] = 1
    pred_a[11, 24] = pred_a[13, 24] = 0.6
    pred_a[4, 20:28] = 0.3
    gt_a[16:20, 4:28] = IGNORE
    pred_a[17, 8:20] = 0.9
    # image B: a 16-pixel vertical gt line, predicted one column to the right,
    # half of it at 0.9 and half at 0.4, and a predicted line (0.6) on ignored gt.
    gt_b = np.zeros((height, width), np.int64)
    pred_b = np.zeros((height, width), np.float32)
    gt_b[4:20, 10] = 1
    pred_b[4:12, 11] = 0.9
    pred_b[12:20, 11] = 0.4
    gt_b[2:22, 20] = IGNORE
    pred_b[2:22, 20] = 0.6
    return [dict(edge=(gt_a, pred_a)), dict(edge=(gt_b, pred_b))]


def test_edge_ods_ois_ap_hand_computed_with_ignore_mask():
    metrics = run_evaluator(edge_case_maps(), edge_max_dist=0.04,
                            edge_thresholds=EDGE_THRESHOLDS, edge_nms=False)
    # Counts (matched, gt, predicted) per threshold, ignored pixels left out:
    #   A: 0.25 -> (11, 11, 20); 0.5 -> (11, 11, 12); 0.75 -> (10, 11, 10)
    #   B: 0.25 -> (16, 16, 16); 0.5 -> (8, 16, 8);   0.75 -> (8, 16, 8)
    # ODS, pooled: F = 2 * matched / (gt + predicted):
    #   0.25: 54 / 63 = 6/7; 0.5: 38 / 47; 0.75: 36 / 45   -> 6/7
    assert metrics['edge/odsF'] == pytest.approx(100 * 6 / 7, rel=1e-9)
    # OIS: A is best at 0.5 (F 22/23 > 20/21 > 22/31), B at 0.25 (F 1):
    #   pooled (27 matched, 27 gt, 28 predicted) -> 54 / 55
    assert metrics['edge/oisF'] == pytest.approx(100 * 54 / 55, rel=1e-9)
    # AP, 101 recall levels r, best precision at recall >= r:
    #   (R, P) = (1, 27/36), (19/27, 19/20), (18/27, 1)
    #   r <= 0.66: 1 (67 levels); 0.67 ... 0.70: 0.95 (4); 0.71 ... 1: 0.75 (30)
    assert metrics['edge/AP'] == pytest.approx(100 * (67 + 4 * 0.95 + 30 * 0.75) / 101,
                                               rel=1e-9)


def test_edge_ignored_gt_pixels_hide_predictions_there():
    """Without the ignore label the predicted lines on ignored gt are false positives."""
    cases = edge_case_maps()
    with_ignore = run_evaluator(cases, edge_max_dist=0.04, edge_thresholds=EDGE_THRESHOLDS,
                                edge_nms=False)
    for case in cases:
        gt, pred = case['edge']
        case['edge'] = (np.where(gt == IGNORE, 0, gt), pred)
    without = run_evaluator(cases, edge_max_dist=0.04, edge_thresholds=EDGE_THRESHOLDS,
                            edge_nms=False)
    # 0.25: A predicts 20 + 12, B 16 + 20: F = 54 / 95; 0.5: 38 / 79;
    # 0.75: A 10 + 12, B 8 (the 0.6 line is below): 36 / 57
    assert without['edge/odsF'] == pytest.approx(100 * 36 / 57, rel=1e-9)
    assert with_ignore['edge/odsF'] > without['edge/odsF'] + 20
