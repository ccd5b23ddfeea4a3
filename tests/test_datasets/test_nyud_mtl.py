"""NYUDv2MTLDataset on both public layouts, and its errors on bad input."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from mmmtl.datasets import NYUDv2MTLDataset
from mmmtl.datasets.base_mtl_dataset import voc_palette
from mmmtl.datasets.transforms import LoadMultiTaskAnnotations

LOAD_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations')]


def _dataset(root, **kwargs):
    kwargs.setdefault('pipeline', LOAD_PIPELINE)
    return NYUDv2MTLDataset(data_root=str(root), **kwargs)


@pytest.mark.parametrize('root_fixture, layout, image_ext', [
    ('synthetic_nyud_root', 'nyudv2', '.png'),
    ('synthetic_nyud_mt_root', 'nyud_mt', '.jpg'),
])
def test_reads_both_layouts(request, root_fixture, layout, image_ext):
    root = request.getfixturevalue(root_fixture)
    train = _dataset(root, split='train')
    val = _dataset(root, split='val')
    assert train.layout == layout
    assert len(train) == 6 and len(val) == 4
    assert val.get_data_info(0)['sample_id'] == 'val_00000'
    assert len(train.metainfo['classes']) == 40 == len(train.metainfo['palette'])
    results = train[1]
    assert results['img_path'].endswith('train_00001' + image_ext)
    assert results['img'].shape == (48, 64, 3)
    assert results['gt_fields'] == ['gt_sem_seg', 'gt_depth', 'gt_normal', 'gt_edge']
    sem = results['gt_sem_seg']
    assert sem.shape == (48, 64) and sem.dtype == np.uint8
    assert set(np.unique(sem)) <= set(range(40)) | {255}
    # label - 1 convention: raw 0 -> 255, raw k -> k - 1
    raw = cv2.imread(str(root / 'segmentation' / 'train_00001.png'), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(sem[raw > 0], raw[raw > 0].astype(int) - 1)
    assert (sem[raw == 0] == 255).all()
    depth = results['gt_depth']
    assert depth.dtype == np.float32 and depth.shape == (48, 64)
    np.testing.assert_array_equal(depth, np.load(root / 'depth' / 'train_00001.npy'))
    normal = results['gt_normal']
    assert normal.shape == (48, 64, 3) and normal.dtype == np.float32
    # Every decoded pixel is kept as is (no pixel of a PNG decodes to zero).
    assert (np.linalg.norm(normal, axis=-1) > 0).all()
    np.testing.assert_allclose(np.linalg.norm(normal, axis=-1), 1, atol=0.01)
    edge = results['gt_edge']
    assert edge.dtype == np.uint8 and set(np.unique(edge)) <= {0, 1} and edge.any()


def test_layouts_decode_to_the_same_normals(synthetic_nyud_root, synthetic_nyud_mt_root):
    """png normals decode as 2x/255 - 1 exactly, npy normals are the stored floats."""
    png = _dataset(synthetic_nyud_root)[0]['gt_normal']
    mt = _dataset(synthetic_nyud_mt_root)[0]['gt_normal']
    # Different seeds render different scenes; compare each to its own source.
    stored = np.load(synthetic_nyud_mt_root / 'normals' / 'train_00000.npy')
    np.testing.assert_allclose(mt, stored, atol=1e-5)
    encoded = cv2.imread(str(synthetic_nyud_root / 'normals' / 'train_00000.png'))[..., ::-1]
    np.testing.assert_array_equal(png, 2 * encoded.astype(np.float32) / 255 - 1)
    # The floor (camera y down) points up: y component about -1.
    assert (png[..., 1] < -0.99).any()


def test_task_subset_split_file_and_explicit_layout(synthetic_nyud_root, tmp_path):
    split = tmp_path / 'two.txt'
    split.write_text('train_00003\nval_00001\n')
    dataset = _dataset(synthetic_nyud_root, split=str(split), tasks=['depth', 'edge'],
                       layout='nyudv2')
    assert len(dataset) == 2
    results = dataset[1]
    assert results['gt_fields'] == ['gt_depth', 'gt_edge']
    assert 'gt_sem_seg' not in results and results['tasks'] == ['depth', 'edge']
    assert dataset.metainfo['tasks'] == ['depth', 'edge']


def test_unknown_and_unavailable_tasks(synthetic_nyud_root):
    with pytest.raises(KeyError, match="'segm'"):
        _dataset(synthetic_nyud_root, tasks=['segm'])
    with pytest.raises(KeyError, match="'saliency'"):
        _dataset(synthetic_nyud_root, tasks=['semseg', 'saliency'])
    with pytest.raises(KeyError, match="'foo'"):
        LoadMultiTaskAnnotations(tasks=['foo'])


def test_wrong_layout_names_the_root(synthetic_nyud_root):
    with pytest.raises(FileNotFoundError, match='missing files'):
        _dataset(synthetic_nyud_root, layout='nyud_mt')
    with pytest.raises(ValueError, match='layout'):
        _dataset(synthetic_nyud_root, layout='nyu')


@pytest.fixture
def nyud_copy(synthetic_nyud_root, tmp_path) -> Path:
    return Path(shutil.copytree(synthetic_nyud_root, tmp_path / 'nyud'))


def test_undetectable_layout(nyud_copy):
    shutil.rmtree(nyud_copy / 'images')
    with pytest.raises(FileNotFoundError, match='cannot detect the NYUD layout.*nyud'):
        _dataset(nyud_copy)


def test_missing_annotation_file(nyud_copy):
    missing = nyud_copy / 'depth' / 'train_00002.npy'
    missing.unlink()
    with pytest.raises(FileNotFoundError, match=f'train_00002: depth {missing}'):
        _dataset(nyud_copy)
    # Without the start-up check the loader names it.
    dataset = _dataset(nyud_copy, check_files=False)
    with pytest.raises(FileNotFoundError, match=str(missing)):
        dataset[2]


def test_split_naming_absent_image(nyud_copy):
    with open(nyud_copy / 'gt_sets' / 'train.txt', 'a') as f:
        f.write('ghost_00042\n')
    with pytest.raises(FileNotFoundError, match='ghost_00042: image .*ghost_00042.png'):
        _dataset(nyud_copy)


def test_missing_split_file(nyud_copy):
    with pytest.raises(FileNotFoundError, match='split file not found.*test.txt'):
        _dataset(nyud_copy, split='test')


def test_nan_depth(nyud_copy):
    path = nyud_copy / 'depth' / 'train_00001.npy'
    depth = np.load(path)
    depth[3, 4] = np.nan
    np.save(path, depth)
    dataset = _dataset(nyud_copy)
    dataset[0]
    with pytest.raises(ValueError, match=f'{path}.*non-finite'):
        dataset[1]


def test_label_out_of_range(nyud_copy):
    path = nyud_copy / 'segmentation' / 'train_00000.png'
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    raw[0, 0] = 45  # stored 45 is class 44 >= 40 (reduce_zero_label)
    cv2.imwrite(str(path), raw)
    with pytest.raises(ValueError, match=rf'stored label values \[45\] in {path}'):
        _dataset(nyud_copy)[0]


def test_palette_segmentation_png(nyud_copy):
    """Label PNGs saved in palette mode give their indices (raw k -> class k - 1)."""
    path = nyud_copy / 'segmentation' / 'train_00000.png'
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    image = Image.fromarray(raw)
    image.putpalette([c for colour in voc_palette(256) for c in colour])
    image.save(path)
    assert Image.open(path).mode == 'P'
    sem = _dataset(nyud_copy, tasks=['semseg'])[0]['gt_sem_seg']
    np.testing.assert_array_equal(sem, np.where(raw == 0, 255, raw.astype(int) - 1))


def test_annotation_size_mismatch(nyud_copy):
    path = nyud_copy / 'depth' / 'train_00000.npy'
    np.save(path, np.ones((10, 10), np.float32))
    with pytest.raises(ValueError, match=f'depth annotation {path} has size'):
        _dataset(nyud_copy)[0]


def test_flip_of_a_loaded_sample(synthetic_nyud_root):
    from mmmtl.datasets.transforms import MultiTaskRandomFlip
    original = _dataset(synthetic_nyud_root)[4]
    flipped = MultiTaskRandomFlip(prob=1.)({k: (v.copy() if hasattr(v, 'copy') else v)
                                           for k, v in original.items()})
    width = original['img'].shape[1]
    for x in (0, 5, width - 1):
        np.testing.assert_array_equal(flipped['img'][:, x], original['img'][:, width - 1 - x])
        for key in ('gt_sem_seg', 'gt_depth', 'gt_edge'):
            np.testing.assert_array_equal(flipped[key][:, x], original[key][:, width - 1 - x])
        mirrored = original['gt_normal'][:, width - 1 - x] * np.array([-1, 1, 1])
        np.testing.assert_array_equal(flipped['gt_normal'][:, x], mirrored)
