"""Every per-pixel map follows the image by its own rule; new kinds and fields plug in."""
import cv2
import numpy as np
import pytest
import torch

from mmmtl.datasets.transforms import (
    MultiTaskPad,
    MultiTaskRandomCrop,
    MultiTaskRandomFlip,
    MultiTaskResize,
    PackMultiTaskInputs,
)
from mmmtl.models.data_preprocessors.multitask_data_preprocessor import MultiTaskDataPreProcessor
from mmmtl.models.segmentors.multitask_encoder_decoder import MultiTaskEncoderDecoder
from mmmtl.tasks import (
    ALIGNED_FIELDS,
    ALL_TASKS,
    TASK_KINDS,
    TASK_SPECS,
    AlignedField,
    TaskKind,
    TaskSpec,
    check_tasks,
    get_aligned_field,
    get_task_kind,
    get_task_spec,
    register_aligned_field,
    register_task,
    register_task_kind,
)

H, W = 6, 8


@pytest.fixture
def registries():
    """Undo whatever a test registers."""
    saved = [(TASK_KINDS, dict(TASK_KINDS)), (TASK_SPECS, dict(TASK_SPECS)),
             (ALIGNED_FIELDS, dict(ALIGNED_FIELDS))]
    tasks = list(ALL_TASKS)
    yield
    for registry, copy in saved:
        registry.clear()
        registry.update(copy)
    ALL_TASKS[:] = tasks


def _rng_map(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_label_maps_resize_nearest_and_depth_scales_with_the_image():
    labels = np.random.default_rng(0).integers(0, 40, (H, W)).astype(np.uint8)
    depth = np.abs(_rng_map(H, W)) + 1
    results = dict(img=np.zeros((H, W, 3), np.uint8), gt_fields=['gt_sem_seg', 'gt_depth'],
                   gt_sem_seg=labels, gt_depth=depth)
    out = MultiTaskResize(scale=(13, 9), keep_ratio=False)(results)
    nearest = cv2.resize(labels, (13, 9), interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(out['gt_sem_seg'], nearest)
    assert set(np.unique(out['gt_sem_seg'])) <= set(np.unique(labels))
    scale = np.sqrt(13 / W * 9 / H)
    np.testing.assert_allclose(
        out['gt_depth'], cv2.resize(depth, (13, 9), interpolation=cv2.INTER_NEAREST) / scale,
        rtol=1e-6)
    assert get_aligned_field('gt_sem_seg').interpolation == 'nearest'


@pytest.mark.parametrize('direction, component', [('horizontal', 0), ('vertical', 1)])
def test_flipping_normals_negates_one_component(direction, component):
    normals = _rng_map(H, W, 3)
    flipped = get_aligned_field('gt_normal').flip(normals.copy(), direction)
    expected = np.flip(normals, axis=1 if direction == 'horizontal' else 0).copy()
    expected[..., component] *= -1
    np.testing.assert_array_equal(flipped, expected)
    depth = _rng_map(H, W)  # a map without direction only moves
    np.testing.assert_array_equal(get_aligned_field('gt_depth').flip(depth, direction),
                                  np.flip(depth, axis=1 if direction == 'horizontal' else 0))


class FlowKind(TaskKind):
    """Optical flow (u, v) in pixels: grows with the image, a flip negates u or v."""
    name = 'test_flow'
    gt_channels = 2
    target = '(N, 2, H, W) float displacement in pixels'

    def rescale(self, values, image_scale):
        return values * image_scale

    def flip(self, values, direction):
        values[..., dict(horizontal=0, vertical=1)[direction]] *= -1
        return values

    def valid_mask(self, gt):
        return torch.isfinite(gt).all(dim=1)

    def predict(self, logits):
        return logits

    def soft(self, logits):
        return logits

    def random_gt(self, num_classes, size_hw, generator=None):
        return torch.randn(2, *size_hw, generator=generator)

    def colorize(self, data, is_gt, palette=None, value_range=None):
        magnitude = np.linalg.norm(data, axis=0)
        grey = (255 * magnitude / max(float(magnitude.max()), 1e-6)).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)

    def save(self, pred, stem, depth_png=True):
        np.save(stem + '.npy', pred)
        return [stem + '.npy']


def test_a_new_kind_is_one_class_and_one_registration(registries):
    register_task_kind(FlowKind)
    register_task(TaskSpec('flow', 'flow', 'test_flow', (2, ), 'depth'))
    assert 'flow' in ALL_TASKS and check_tasks(['flow', 'depth']) == ['flow', 'depth']
    assert get_task_spec('flow').task_kind is get_task_kind('test_flow')
    flow = _rng_map(H, W, 2)
    results = dict(img=np.zeros((H, W, 3), np.uint8), gt_fields=['gt_flow'], gt_flow=flow)
    for transform in (MultiTaskResize(scale_factor=2.), MultiTaskRandomFlip(prob=1.),
                      MultiTaskPad(size=(20, 15))):
        results = transform(results)
    expected = np.flip(np.repeat(np.repeat(flow, 2, 0), 2, 1), axis=1) * 2
    expected[..., 0] *= -1
    np.testing.assert_allclose(results['gt_flow'][:2 * H, :2 * W], expected, rtol=1e-6)
    assert (results['gt_flow'][2 * H:] == 0).all() and results['gt_flow'].shape == (15, 20, 2)
    packed = PackMultiTaskInputs()(results)['data_samples'].gt_flow.data
    assert packed.shape == (2, 15, 20) and packed.dtype == torch.float32
    logits = torch.randn(2, 4, 4)
    assert torch.equal(MultiTaskEncoderDecoder.logits_to_prediction('flow', logits), logits)


def test_a_float_output_map_is_one_more_aligned_field(registries):
    """A float map of a task output (as a teacher output): the task's flip rule,
    resized bilinear, padded with 0, and a validity mask that pads invalid."""
    register_aligned_field('output_normal',
                           AlignedField('bilinear', 0., torch.float32, get_task_kind('normal')))
    register_aligned_field('output_valid', AlignedField('nearest', 0., torch.bool))
    register_aligned_field('output_valid', AlignedField('nearest', 0., torch.bool))  # same
    with pytest.raises(KeyError, match='already has another rule'):
        register_aligned_field('output_valid', AlignedField('bilinear'))
    teacher = _rng_map(H, W, 3)
    results = dict(img=np.zeros((H, W, 3), np.uint8), gt_fields=[],
                   aligned_fields=['output_normal', 'output_valid'],
                   output_normal=teacher.copy(), output_valid=np.ones((H, W), bool))
    results = MultiTaskResize(scale=(2 * W, 2 * H), keep_ratio=False)(results)
    bilinear = cv2.resize(teacher, (2 * W, 2 * H), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(results['output_normal'], bilinear)
    results = MultiTaskRandomFlip(prob=1.)(results)
    expected = np.flip(bilinear, axis=1).copy()
    expected[..., 0] *= -1
    np.testing.assert_array_equal(results['output_normal'], expected)
    np.random.seed(0)
    results = MultiTaskRandomCrop((2 * H, 2 * W - 3))(results)
    results = MultiTaskPad(size=(2 * W, 2 * H + 2))(results)
    assert results['output_valid'].dtype == bool
    assert results['output_valid'][:2 * H, :2 * W - 3].all()
    assert not results['output_valid'][2 * H:].any() and not results['output_valid'][:, -3:].any()
    assert (results['output_normal'][2 * H:] == 0).all()
    sample = PackMultiTaskInputs()(results)['data_samples']
    assert sample.output_normal.data.shape == (3, 2 * H + 2, 2 * W)
    assert sample.output_valid.data.dtype == torch.bool
    # Batch padding in the data preprocessor uses the same rule.
    MultiTaskDataPreProcessor._pad_gt(sample, (0, 2, 0, 1))  # (left, right, top, bottom)
    assert sample.output_valid.data.shape == (1, 2 * H + 3, 2 * W + 2)
    assert not sample.output_valid.data[:, -1].any()


def test_a_listed_field_without_rule_or_value_is_an_error():
    results = dict(img=np.zeros((H, W, 3), np.uint8), aligned_fields=['teacher_semseg'],
                   teacher_semseg=np.zeros((H, W), np.float32))
    with pytest.raises(KeyError, match="'teacher_semseg' in aligned_fields has no rule"):
        MultiTaskRandomFlip(prob=1.)(results)
    results = dict(img=np.zeros((H, W, 3), np.uint8), gt_fields=['gt_depth'])
    with pytest.raises(KeyError, match="'gt_depth' is listed in gt_fields but missing"):
        MultiTaskPad(size=(W, H))(results)
