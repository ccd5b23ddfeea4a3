"""LoadTeacherOutputs: cached teacher outputs move exactly as the image through the
transforms (their sampling grid does; the distiller samples them at it)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate

from mmmtl.datasets.transforms import (
    LoadTeacherOutputs,
    MultiTaskPad,
    MultiTaskRandomCrop,
    MultiTaskRandomFlip,
    MultiTaskResize,
    PackMultiTaskInputs,
)
from mmmtl.models.distillers.teacher_cache import cached_teacher_outputs
from mmmtl.registry import MODELS
from mmmtl.utils.teacher_cache import make_manifest, write_entry, write_manifest

H, W = 20, 30
OUTPUTS = (('semseg', 3), ('depth', 1), ('normal', 3))


def tracer_image() -> np.ndarray:
    """Channels: column, row, noise; every output pixel says where it came from."""
    rows, cols = np.mgrid[0:H, 0:W]
    noise = np.random.default_rng(0).integers(0, 255, (H, W))
    return np.stack([cols, rows, noise], -1).astype(np.uint8)


def write_cache(root, outputs, scale, dtype='float32') -> str:
    """A one-image cache (sample 'a') holding ``outputs`` {name: (h, w, C) array}."""
    write_manifest(str(root), make_manifest(
        teacher=dict(config='t', config_sha256='0', checkpoint=None, checkpoint_sha256=None),
        dataset_type='X', data_root=str(root), split='train', samples=dict(a='a.png'),
        tasks=[name for name, _ in OUTPUTS], outputs=OUTPUTS, scale=scale, dtype=dtype,
        view={}))
    write_entry(str(root), 'a', [outputs[name] for name, _ in OUTPUTS], dtype)
    return str(root)


def sample(img: np.ndarray) -> dict:
    return dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2], sample_id='a',
                img_path='a.png', gt_fields=[])


@pytest.fixture
def tracer_cache(tmp_path):
    img = tracer_image().astype(np.float32)
    return write_cache(tmp_path, dict(semseg=img, depth=img[..., :1] + 1, normal=img), 1.0)


def sample_outputs(results: dict) -> dict:
    """The cached outputs as the distiller sees them after the pipeline."""
    packed = PackMultiTaskInputs()(results)['data_samples']
    slices = dict(semseg=slice(0, 3), depth=slice(3, 4), normal=slice(4, 7))
    final, _, valid = cached_teacher_outputs([packed], slices, torch.device('cpu'))
    return {name: value[0].permute(1, 2, 0).numpy() for name, value in final.items()}, valid[0]


@pytest.mark.parametrize('seed', range(4))
def test_crop_flip_pad_move_cached_maps_exactly_as_the_image(tracer_cache, seed):
    """The stored outputs are the tracer image itself: after the pipeline the
    sampling grid points exactly at each pixel's source, and each pixel's
    output is the transformed image's pixel (up to grid_sample's float32
    coordinate arithmetic)."""
    np.random.seed(seed)
    results = LoadTeacherOutputs(tracer_cache)(sample(tracer_image()))
    for transform in (MultiTaskRandomCrop((12, 20)), MultiTaskRandomFlip(prob=1.0),
                      MultiTaskPad(size=(24, 16))):
        results = transform(results)
    img = results['img'].astype(np.float32)  # cropped, flipped, padded with 0
    h, w = 12, 20
    # the sampling grid points at each pixel's source, as the image's tracer says
    grid, covered = results['teacher_grid'].dense()
    assert grid.shape == (16, 24, 2)
    np.testing.assert_allclose(grid[:h, :w, 0], (img[:h, :w, 0] + 0.5) * (2 / W) - 1,
                               atol=1e-6)
    np.testing.assert_allclose(grid[:h, :w, 1], (img[:h, :w, 1] + 0.5) * (2 / H) - 1,
                               atol=1e-6)
    assert covered[:h, :w].all() and not covered[h:].any() and not covered[:, w:].any()
    outputs, valid = sample_outputs(results)
    np.testing.assert_allclose(outputs['semseg'][:h, :w], img[:h, :w], atol=1e-3)
    np.testing.assert_allclose(outputs['depth'][:h, :w, 0], img[:h, :w, 0] + 1, atol=1e-3)
    # a horizontal flip negates the x component of the normals
    np.testing.assert_allclose(outputs['normal'][:h, :w, 0], -img[:h, :w, 0], atol=1e-3)
    np.testing.assert_allclose(outputs['normal'][:h, :w, 1:], img[:h, :w, 1:], atol=1e-3)
    assert valid.shape == (16, 24) and valid[:h, :w].all() and not valid[h:].any()
    assert not valid[:, w:].any()


@pytest.mark.parametrize('seed', range(2))
def test_resize_crop_flip_pad_follow_the_same_geometry_on_a_tensor(tmp_path, seed):
    """Outputs stored at half the image size, then resized by 1.5, cropped,
    flipped and padded: the same as upsampling the stored tensor bilinearly
    to the resized image and cropping, flipping and padding it, with the
    tasks' value rules (depth / 1.5, normal x negated)."""
    rng = np.random.default_rng(seed)
    stored = {name: rng.normal(size=(10, 15, c)).astype(np.float32) for name, c in OUTPUTS}
    cache = write_cache(tmp_path, stored, 0.5)
    np.random.seed(seed)
    results = LoadTeacherOutputs(cache)(sample(tracer_image()))
    crop = MultiTaskRandomCrop((24, 40))
    for transform in (MultiTaskResize(scale_factor=1.5), crop, MultiTaskRandomFlip(prob=1.0),
                      MultiTaskPad(size=(48, 32))):
        results = transform(results)
    outputs, valid = sample_outputs(results)
    np.random.seed(seed)  # the crop is the pipeline's first random draw
    y1, y2, x1, x2 = crop._random_bbox(30, 45)
    for name, _ in OUTPUTS:
        tensor = torch.from_numpy(stored[name]).permute(2, 0, 1)[None]
        expected = F.interpolate(tensor, size=(30, 45), mode='bilinear', align_corners=False)
        expected = expected[0, :, y1:y2, x1:x2].flip(-1).permute(1, 2, 0).numpy()
        if name == 'depth':
            expected = expected / 1.5
        if name == 'normal':
            expected[..., 0] *= -1
        np.testing.assert_allclose(outputs[name][:24, :40], expected, atol=1e-5)
        assert not outputs[name][24:].any() and not outputs[name][:, 40:].any()
    assert valid[:24, :40].all() and not valid[24:].any() and not valid[:, 40:].any()


@pytest.mark.parametrize('pad_center', [False, True])
def test_packed_and_padded_by_the_data_preprocessor(tmp_path, pad_center):
    """The grid travels in the meta; the distiller builds it for the padded
    batch, wherever the preprocessor put the image in it."""
    rng = np.random.default_rng(0)
    stored = {name: rng.normal(size=(10, 15, c)).astype(np.float32) for name, c in OUTPUTS}
    results = LoadTeacherOutputs(write_cache(tmp_path, stored, 0.5, 'float16'))(
        sample(tracer_image()))
    results = MultiTaskRandomFlip(prob=1.0)(results)
    packed = PackMultiTaskInputs()(results)['data_samples']
    assert packed.teacher_outputs.shape == (10, 15, 7)  # stored size, all channels
    assert packed.teacher_outputs.dtype == torch.float16
    assert packed.teacher_grid.shape == (H, W)
    assert 'teacher_grid' not in packed.keys()  # meta, not a per-pixel map
    slices = dict(semseg=slice(0, 3), depth=slice(3, 4), normal=slice(4, 7))
    unpadded, _, _ = cached_teacher_outputs([packed], slices, torch.device('cpu'))
    preprocessor = MODELS.build(dict(type='MultiTaskDataPreProcessor', size_divisor=32,
                                     pad_center=pad_center))
    data = preprocessor(pseudo_collate([dict(inputs=torch.zeros(3, H, W, dtype=torch.uint8),
                                             data_samples=packed)]), True)
    padded, _, valid = cached_teacher_outputs(data['data_samples'], slices,
                                              torch.device('cpu'))
    top, left = (6, 1) if pad_center else (0, 0)
    assert valid.shape == (1, 32, 32)
    window = (slice(None), slice(None), slice(top, top + H), slice(left, left + W))
    assert valid[0][window[2:]].all() and valid.sum() == H * W
    for name in slices:
        assert padded[name].shape[-2:] == (32, 32)
        np.testing.assert_allclose(padded[name][window], unpadded[name], atol=1e-6)
        assert float(padded[name].abs().sum()) == pytest.approx(float(unpadded[name].abs().sum()),
                                                                rel=1e-6)
    # flipped: the normals' x component is negated, the rest is the stored map mirrored
    normal = torch.from_numpy(stored['normal']).half().float().permute(2, 0, 1)[None]
    expected = F.interpolate(normal, size=(H, W), mode='bilinear', align_corners=False).flip(-1)
    expected[:, 0] *= -1
    np.testing.assert_allclose(unpadded['normal'], expected, atol=1e-5)


def test_missing_or_foreign_entries_name_the_image(tmp_path, tracer_cache):
    with pytest.raises(KeyError, match="image 'b.png'"):
        LoadTeacherOutputs(tracer_cache)(dict(sample(tracer_image()), sample_id='b',
                                              img_path='b.png'))
    small = tracer_image()[:10]
    with pytest.raises(ValueError, match="entry of a.png is \\(20, 30\\), not \\(10, 30\\)"):
        LoadTeacherOutputs(tracer_cache)(sample(small))
    (tmp_path / 'entries' / 'a.npy').unlink()
    with pytest.raises(FileNotFoundError, match="image 'a.png'"):
        LoadTeacherOutputs(tracer_cache)(sample(tracer_image()))
