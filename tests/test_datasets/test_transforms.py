"""Multi-task transforms keep every task's map aligned with the image."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate

from mmmtl.datasets.transforms import (
    MultiTaskPad,
    MultiTaskPhotoMetricDistortion,
    MultiTaskRandomCrop,
    MultiTaskRandomFlip,
    MultiTaskRandomResize,
    MultiTaskResize,
    PackMultiTaskInputs,
)
from mmmtl.registry import TRANSFORMS
from mmmtl.structures import MultiTaskDataSample

H, W = 20, 30
ALL_GT = ['gt_sem_seg', 'gt_human_parts', 'gt_saliency', 'gt_edge', 'gt_depth',
          'gt_normal']


def _results(fields=ALL_GT) -> dict:
    """A sample whose maps all encode the pixel position.

    The image's first two channels are the column and the row, so the source
    position of every output pixel can be read back from the image.
    """
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[0:H, 0:W]
    img = np.stack([cols, rows, rng.integers(0, 255, (H, W))], -1).astype(np.uint8)
    normal = rng.normal(size=(H, W, 3)).astype(np.float32)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    maps = dict(
        gt_sem_seg=((rows * W + cols) % 40).astype(np.uint8),
        gt_human_parts=((rows + cols) % 7).astype(np.uint8),
        gt_saliency=((rows // 3 + cols // 4) % 2).astype(np.uint8),
        gt_edge=(cols % 5 == 0).astype(np.uint8),
        gt_depth=(1 + rows * 0.1 + cols * 0.01).astype(np.float32),
        gt_normal=normal)
    results = dict(img=img, img_shape=(H, W), ori_shape=(H, W), gt_fields=list(fields))
    results.update({key: maps[key] for key in fields})
    return results


def _copy(results: dict) -> dict:
    return {k: (v.copy() if isinstance(v, (np.ndarray, list)) else v) for k, v in results.items()}


def test_all_transforms_are_registered():
    for name in ('LoadMultiTaskAnnotations', 'MultiTaskRandomResize', 'MultiTaskResize',
                 'MultiTaskRandomCrop', 'MultiTaskRandomFlip', 'MultiTaskPad',
                 'MultiTaskPhotoMetricDistortion', 'PackMultiTaskInputs'):
        assert TRANSFORMS.get(name) is not None, name


@pytest.mark.parametrize('direction, axis, channel', [('horizontal', 1, 0),
                                                      ('vertical', 0, 1)])
def test_flip_pixel_by_pixel(direction, axis, channel):
    original = _results()
    flipped = MultiTaskRandomFlip(prob=1., direction=direction)(_copy(original))
    assert flipped['flip'] is True and flipped['flip_direction'] == direction
    for key in ['img'] + ALL_GT:
        expected = np.flip(original[key], axis=axis)
        if key == 'gt_normal':
            expected = expected.copy()
            expected[..., channel] *= -1
        np.testing.assert_array_equal(flipped[key], expected, err_msg=key)
    # Horizontal: pixel (y, x) comes from (y, W-1-x) with the normal mirrored.
    if direction == 'horizontal':
        y, x = 3, 7
        src = original['gt_normal'][y, W - 1 - x]
        np.testing.assert_array_equal(flipped['gt_normal'][y, x], [-src[0], src[1], src[2]])
        assert flipped['img'][y, x, 0] == W - 1 - x
    # Flipping twice restores everything.
    twice = MultiTaskRandomFlip(prob=1., direction=direction)(_copy(flipped))
    for key in ['img'] + ALL_GT:
        np.testing.assert_array_equal(twice[key], original[key], err_msg=key)


def test_flip_prob_zero_changes_nothing():
    original = _results()
    out = MultiTaskRandomFlip(prob=0.)(_copy(original))
    assert out['flip'] is False and out['flip_direction'] is None
    for key in ['img'] + ALL_GT:
        np.testing.assert_array_equal(out[key], original[key])


@pytest.mark.parametrize('seed', range(5))
def test_crop_pixel_by_pixel(seed):
    np.random.seed(seed)
    original = _results()
    out = MultiTaskRandomCrop(crop_size=(11, 17))(_copy(original))
    assert out['img'].shape[:2] == (11, 17) == out['img_shape']
    x0, y0 = int(out['img'][0, 0, 0]), int(out['img'][0, 0, 1])
    for key in ['img'] + ALL_GT:
        np.testing.assert_array_equal(out[key], original[key][y0:y0 + 11, x0:x0 + 17],
                                      err_msg=key)


def test_crop_larger_than_image_keeps_it_whole():
    out = MultiTaskRandomCrop(crop_size=(50, 10))(_results())
    assert out['img'].shape[:2] == (H, 10)
    assert all(out[key].shape[:2] == (H, 10) for key in ALL_GT)


def test_crop_cat_max_ratio_uses_semseg():
    def crop_has_two_classes(cat_max_ratio, seed):
        np.random.seed(seed)
        results = _results(['gt_sem_seg'])
        sem = np.zeros((H, W), np.uint8)
        sem[:, 26:] = 1  # class 1 only in the last 4 columns
        results['gt_sem_seg'] = sem
        out = MultiTaskRandomCrop((H, 10), cat_max_ratio=cat_max_ratio)(results)
        labels, counts = np.unique(out['gt_sem_seg'], return_counts=True)
        return len(labels) > 1 and counts.max() / counts.sum() < 0.9

    balanced = sum(crop_has_two_classes(0.9, seed) for seed in range(30))
    plain = sum(crop_has_two_classes(1.0, seed) for seed in range(30))
    # A random crop covers class 1 with probability 4/21; retrying 10 times
    # finds one with probability ~0.88.
    assert plain <= 12 and balanced >= 20


def test_resize_by_two_pixel_by_pixel():
    original = _results()
    out = MultiTaskRandomResize(ratios=[2.0])(_copy(original))
    assert out['img'].shape[:2] == (2 * H, 2 * W) == out['img_shape']
    assert out['scale_factor'] == (2.0, 2.0)
    rows, cols = np.mgrid[0:2 * H, 0:2 * W] // 2
    for key in ALL_GT:
        expected = original[key][rows, cols]
        if key == 'gt_depth':
            expected = expected / 2  # twice as large = twice as close
        np.testing.assert_allclose(out[key], expected, rtol=1e-6, err_msg=key)
        assert out[key].dtype == original[key].dtype, key
    # The image is bilinear, the labels stay labels.
    np.testing.assert_array_equal(
        out['img'], cv2.resize(original['img'], (2 * W, 2 * H), interpolation=cv2.INTER_LINEAR))
    assert set(np.unique(out['gt_edge'])) == {0, 1}


def test_resize_to_half_and_keep_ratio_rule():
    original = _results()
    out = MultiTaskResize(scale_factor=0.5)(_copy(original))
    assert out['img'].shape[:2] == (H // 2, W // 2)
    np.testing.assert_allclose(out['gt_depth'], original['gt_depth'][::2, ::2] * 2, rtol=1e-6)
    np.testing.assert_array_equal(out['gt_sem_seg'], original['gt_sem_seg'][::2, ::2])
    # keep_ratio: long edge 30 fits 60, short edge 20 fits 50 -> factor 2.
    out = MultiTaskResize(scale=(60, 50))(_copy(original))
    assert out['img_shape'] == (40, 60)
    out = MultiTaskResize(scale=(45, 10), keep_ratio=False,
                          rescale_depth=False)(_copy(original))
    assert out['gt_normal'].shape == (10, 45, 3)
    assert set(np.unique(out['gt_depth'])) <= set(np.unique(original['gt_depth']))


def test_random_resize_ratio_range():
    np.random.seed(0)
    sizes = set()
    for _ in range(10):
        out = MultiTaskRandomResize(ratio_range=(1.0, 1.5))(_results(['gt_depth']))
        ratio = out['img'].shape[1] / W
        assert 1.0 <= ratio <= 1.5 + 1 / W
        np.testing.assert_allclose(out['gt_depth'].max(),
                                   _results()['gt_depth'].max() / np.sqrt(
                                       np.prod(out['scale_factor'])), rtol=1e-5)
        sizes.add(out['img'].shape)
    assert len(sizes) > 1
    with pytest.raises(ValueError):
        MultiTaskRandomResize(ratio_range=(1.0, 1.5), ratios=[1.0])


def test_pad_values_per_task():
    original = _results()
    out = MultiTaskPad(size=(32, 24))(_copy(original))  # (w, h)
    assert out['pad_shape'] == (24, 32)
    for key in ['img'] + ALL_GT:
        np.testing.assert_array_equal(out[key][:H, :W], original[key], err_msg=key)
    assert (out['img'][H:] == 0).all() and (out['img'][:, W:] == 0).all()
    for key in ('gt_sem_seg', 'gt_human_parts', 'gt_saliency', 'gt_edge'):
        assert (out[key][H:] == 255).all() and (out[key][:, W:] == 255).all(), key
    assert (out['gt_depth'][H:] == 0).all() and (out['gt_normal'][:, W:] == 0).all()
    out = MultiTaskPad(size_divisor=16)(_results())
    assert out['img'].shape[:2] == (32, 32) == out['gt_normal'].shape[:2]


def test_transforms_touch_only_present_fields():
    results = _results(['gt_depth'])
    pipeline = [MultiTaskRandomResize(ratios=[1.5]), MultiTaskRandomCrop((10, 10)),
                MultiTaskRandomFlip(prob=1.), MultiTaskPad(size=(16, 16))]
    for transform in pipeline:
        results = transform(results)
    assert results['gt_fields'] == ['gt_depth'] and 'gt_sem_seg' not in results
    assert results['gt_depth'].shape == (16, 16)
    broken = _results(['gt_depth'])
    broken['gt_fields'].append('gt_normal')
    with pytest.raises(KeyError, match='gt_normal'):
        MultiTaskRandomFlip(prob=1.)(broken)


def test_photometric_distortion_changes_the_image_only():
    np.random.seed(1)
    original = _results()
    original['img'] = np.random.randint(0, 255, (H, W, 3)).astype(np.uint8)
    out = MultiTaskPhotoMetricDistortion()(_copy(original))
    assert out['img'].dtype == np.uint8 and out['img'].shape == (H, W, 3)
    assert not np.array_equal(out['img'], original['img'])
    for key in ALL_GT:
        np.testing.assert_array_equal(out[key], original[key])


def test_pack_and_collate():
    results = _results()
    results.update(img_path='a.png', tasks=['semseg', 'human_parts', 'saliency', 'edge',
                                            'depth', 'normal'])
    packed = PackMultiTaskInputs()(results)
    inputs, sample = packed['inputs'], packed['data_samples']
    assert isinstance(sample, MultiTaskDataSample)
    assert inputs.shape == (3, H, W) and inputs.dtype == torch.uint8
    for key in ('gt_sem_seg', 'gt_human_parts', 'gt_saliency', 'gt_edge'):
        data = getattr(sample, key).data
        assert data.shape == (1, H, W) and data.dtype == torch.int64, key
        np.testing.assert_array_equal(data[0].numpy(), results[key])
    assert sample.gt_depth.data.dtype == torch.float32 and sample.gt_depth.shape == (H, W)
    normal = sample.gt_normal.data
    assert normal.shape == (3, H, W)
    np.testing.assert_array_equal(normal.permute(1, 2, 0).numpy(), results['gt_normal'])
    meta = sample.metainfo
    assert meta['flip'] is False and meta['scale_factor'] == (1., 1.)
    assert meta['pad_shape'] == (H, W) and meta['tasks'][0] == 'semseg'
    assert meta['img_path'] == 'a.png' and meta['ori_shape'] == (H, W)

    batch = [packed, PackMultiTaskInputs()(_results())]
    collated = pseudo_collate(batch)
    assert len(collated['inputs']) == 2
    assert collated['data_samples'][0].gt_normal.data.shape == (3, H, W)
    stacked = default_collate(batch)
    assert stacked['inputs'].shape == (2, 3, H, W)
    assert torch.equal(stacked['data_samples'][1].gt_sem_seg.data,
                       batch[1]['data_samples'].gt_sem_seg.data)


def test_pack_only_loaded_tasks():
    packed = PackMultiTaskInputs()(_results(['gt_depth', 'gt_edge']))
    sample = packed['data_samples']
    assert 'gt_depth' in sample and 'gt_edge' in sample
    assert 'gt_sem_seg' not in sample and 'gt_normal' not in sample
