"""LoadTeacherOutputs: cached teacher maps move exactly as the image through the transforms."""
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


@pytest.mark.parametrize('seed', range(4))
def test_crop_flip_pad_move_cached_maps_exactly_as_the_image(tracer_cache, seed):
    np.random.seed(seed)
    results = LoadTeacherOutputs(tracer_cache)(sample(tracer_image()))
    for transform in (MultiTaskRandomCrop((12, 20)), MultiTaskRandomFlip(prob=1.0),
                      MultiTaskPad(size=(24, 16))):
        results = transform(results)
    img = results['img'].astype(np.float32)  # cropped, flipped, padded with 0
    h, w = 12, 20
    assert results['teacher_semseg'].shape == (16, 24, 3)
    np.testing.assert_array_equal(results['teacher_semseg'][:h, :w], img[:h, :w])
    np.testing.assert_array_equal(results['teacher_depth'][:h, :w, 0], img[:h, :w, 0] + 1)
    # a horizontal flip negates the x component of the normals
    np.testing.assert_array_equal(results['teacher_normal'][:h, :w, 0], -img[:h, :w, 0])
    np.testing.assert_array_equal(results['teacher_normal'][:h, :w, 1:], img[:h, :w, 1:])
    valid = results['teacher_valid']
    assert valid.shape == (16, 24) and valid[:h, :w].all() and not valid[h:].any()
    assert not valid[:, w:].any()
    for key in ('teacher_semseg', 'teacher_depth', 'teacher_normal'):
        assert not results[key][h:].any() and not results[key][:, w:].any()


def test_stored_scale_and_resize_follow_bilinear_on_a_tensor(tmp_path):
    rng = np.random.default_rng(1)
    stored = {name: rng.normal(size=(10, 15, c)).astype(np.float32) for name, c in OUTPUTS}
    stored['depth'] = np.abs(stored['depth']) + 1
    results = LoadTeacherOutputs(write_cache(tmp_path, stored, 0.5))(sample(tracer_image()))

    def bilinear(array, size):
        tensor = torch.from_numpy(array).permute(2, 0, 1)[None]
        resized = F.interpolate(tensor, size=size, mode='bilinear', align_corners=False)
        return resized[0].permute(1, 2, 0).numpy()

    loaded = {name: bilinear(stored[name], (H, W)) for name, _ in OUTPUTS}
    for name, _ in OUTPUTS:
        np.testing.assert_allclose(results[f'teacher_{name}'], loaded[name], atol=1e-5)
    results = MultiTaskResize(scale_factor=1.5)(results)
    new_h, new_w = results['img'].shape[:2]
    for name, _ in OUTPUTS:
        expected = bilinear(loaded[name], (new_h, new_w))
        if name == 'depth':  # as the ground truth: a closer camera sees depth / scale
            expected = expected / np.sqrt(new_w / W * new_h / H)
        np.testing.assert_allclose(results[f'teacher_{name}'], expected, atol=1e-4)
    assert results['teacher_valid'].shape == (new_h, new_w) and results['teacher_valid'].all()


def test_packed_and_padded_by_the_data_preprocessor(tracer_cache):
    results = LoadTeacherOutputs(tracer_cache)(sample(tracer_image()))
    packed = PackMultiTaskInputs()(results)['data_samples']
    assert packed.teacher_semseg.data.shape == (3, H, W)
    assert packed.teacher_semseg.data.dtype == torch.float32
    assert packed.teacher_valid.data.shape == (1, H, W)
    preprocessor = MODELS.build(dict(type='MultiTaskDataPreProcessor', size_divisor=32))
    data = preprocessor(pseudo_collate([dict(inputs=torch.zeros(3, H, W, dtype=torch.uint8),
                                             data_samples=packed)]), True)
    padded = data['data_samples'][0]
    assert padded.teacher_normal.data.shape == (3, 32, 32)
    valid = padded.teacher_valid.data[0]
    assert valid[:H, :W].all() and not valid[H:].any() and not valid[:, W:].any()
    assert not padded.teacher_normal.data[:, H:].any()


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
