"""PascalContextMTLDataset and its PASCAL-specific annotation readers."""
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy.io import loadmat, savemat

from mmmtl.datasets import PascalContextMTLDataset
from mmmtl.datasets.annotation_readers import (
    PASCAL_NORMAL_VALID_LABELS,
    labelmap_to_edge,
    read_human_parts_mat,
)
from mmmtl.datasets.base_mtl_dataset import voc_palette
from mmmtl.datasets.synthetic import CONTEXT_LABELS

LOAD_PIPELINE = [dict(type='LoadImageFromFile'), dict(type='LoadMultiTaskAnnotations')]


def _dataset(root, **kwargs):
    kwargs.setdefault('pipeline', LOAD_PIPELINE)
    return PascalContextMTLDataset(data_root=str(root), **kwargs)


def test_reads_all_tasks(synthetic_pascal_root):
    train = _dataset(synthetic_pascal_root)
    assert len(train) == 6 and len(_dataset(synthetic_pascal_root, split='val')) == 4
    assert len(train.metainfo['classes']) == 21
    assert len(train.metainfo['part_classes']) == 7 == len(train.metainfo['part_palette'])
    results = train[0]
    assert results['gt_fields'] == ['gt_sem_seg', 'gt_human_parts', 'gt_saliency',
                                    'gt_normal', 'gt_edge']
    for key in results['gt_fields']:
        assert results[key].shape[:2] == (48, 64), key
    sem = results['gt_sem_seg']
    assert sem.dtype == np.uint8 and set(np.unique(sem)) <= set(range(21)) | {255}
    assert 15 in np.unique(sem)  # sample 0 has a person
    parts = results['gt_human_parts']
    assert set(np.unique(parts)) <= set(range(7)) and {0, 1, 2} <= set(np.unique(parts))
    # Parts lie exactly on the person, background elsewhere.
    np.testing.assert_array_equal(parts > 0, sem == 15)
    assert set(np.unique(results['gt_saliency'])) == {0, 1}
    edge = results['gt_edge']
    assert set(np.unique(edge)) == {0, 1}


def test_image_without_person_has_ignored_parts(synthetic_pascal_root):
    results = _dataset(synthetic_pascal_root, tasks=['human_parts', 'semseg'])[2]
    assert results['sample_id'] == 'train_00002'
    assert 15 not in np.unique(results['gt_sem_seg'])
    assert (results['gt_human_parts'] == 255).all()


def test_normals_only_on_valid_context_classes(synthetic_pascal_root):
    dataset = _dataset(synthetic_pascal_root, tasks=['normal'])
    ignored = 0
    for index in range(len(dataset)):
        results = dataset[index]
        label_map = loadmat(
            synthetic_pascal_root / 'pascal-context' / 'trainval' /
            f"{results['sample_id']}.mat")['LabelMap']
        encoded = np.asarray(Image.open(
            synthetic_pascal_root / 'normals_distill' / f"{results['sample_id']}.png"))
        valid = np.isin(label_map, PASCAL_NORMAL_VALID_LABELS)
        ignored += int((~valid).sum())
        # The reference decoding on valid classes, untouched; zero elsewhere.
        np.testing.assert_array_equal(results['gt_normal'][valid],
                                      2. * encoded[valid].astype(np.float32) / 255. - 1.)
        assert (results['gt_normal'][~valid] == 0).all()
    assert ignored > 0
    assert CONTEXT_LABELS['pottedplant'] not in PASCAL_NORMAL_VALID_LABELS
    assert CONTEXT_LABELS['wall'] in PASCAL_NORMAL_VALID_LABELS


def test_custom_normal_valid_labels(synthetic_pascal_root):
    wall_only = _dataset(synthetic_pascal_root, tasks=['normal'],
                         normal_valid_labels=[CONTEXT_LABELS['wall']])[0]
    label_map = loadmat(synthetic_pascal_root / 'pascal-context' / 'trainval' /
                        'train_00000.mat')['LabelMap']
    norm = np.linalg.norm(wall_only['gt_normal'], axis=-1)
    np.testing.assert_array_equal(norm > 0, label_map == CONTEXT_LABELS['wall'])


def test_edges_follow_labelmap_boundaries(synthetic_pascal_root):
    edge = _dataset(synthetic_pascal_root, tasks=['edge'])[1]['gt_edge']
    label_map = loadmat(synthetic_pascal_root / 'pascal-context' / 'trainval' /
                        'train_00001.mat')['LabelMap'].astype(int)
    changes = np.zeros_like(edge, dtype=bool)
    changes[:, 1:] |= label_map[:, 1:] != label_map[:, :-1]
    changes[:, :-1] |= label_map[:, 1:] != label_map[:, :-1]
    changes[1:] |= label_map[1:] != label_map[:-1]
    changes[:-1] |= label_map[1:] != label_map[:-1]
    # Every edge pixel touches a label change, and most changes are covered.
    assert changes[edge == 1].all()
    assert edge.sum() >= 0.4 * changes.sum()


def test_labelmap_to_edge_is_one_pixel_thick():
    label_map = np.zeros((12, 16), np.int64)
    label_map[:, 8:] = 5
    edge = labelmap_to_edge(label_map)
    # One column, not the two pixels either side; the thinning (skimage /
    # MATLAB, zero outside the image) shortens the line by its top pixel.
    np.testing.assert_array_equal(edge.sum(axis=1), [0] + [1] * 11)
    assert set(np.nonzero(edge)[1]) <= {7, 8}
    np.testing.assert_array_equal(labelmap_to_edge(np.full((6, 6), 3)), 0)


def _anno(objects):
    anno = np.empty((1, 1), dtype=[('imname', 'O'), ('objects', 'O')])
    objs = np.empty((1, len(objects)), dtype=[(n, 'O') for n in
                                              ('class', 'class_ind', 'mask', 'parts')])
    for i, (name, index, mask, parts) in enumerate(objects):
        if parts:
            part_array = np.empty((1, len(parts)), dtype=[('part_name', 'O'), ('mask', 'O')])
            for j, (part, part_mask) in enumerate(parts):
                part_array[0, j] = (np.array([part]), part_mask.astype(np.uint8))
        else:
            part_array = np.zeros((0, 0))
        objs[0, i] = (np.array([name]), np.array([[index]]), mask.astype(np.uint8),
                      part_array)
    anno[0, 0] = (np.array(['x']), objs)
    return {'anno': anno}


def test_human_parts_mat_mapping(tmp_path):
    masks = {name: np.zeros((4, 7), bool) for name in
             ('hair', 'neck', 'luarm', 'rhand', 'ruleg', 'lfoot', 'wheel')}
    for column, name in enumerate(masks):
        masks[name][:, column] = True
    person = np.ones((4, 7), bool)
    parts = [(name, masks[name]) for name in ('hair', 'neck', 'luarm', 'rhand', 'ruleg',
                                              'lfoot')]
    path = tmp_path / 'parts.mat'
    savemat(path, _anno([('person', 15, person, parts),
                         ('bicycle', 2, masks['wheel'], [('wheel', masks['wheel'])])]))
    target = read_human_parts_mat(str(path))
    np.testing.assert_array_equal(target[0], [1, 2, 3, 4, 5, 6, 0])
    # Only a non-person object: the whole image is ignored.
    savemat(path, _anno([('bicycle', 2, person, [('wheel', masks['wheel'])])]))
    np.testing.assert_array_equal(read_human_parts_mat(str(path), shape=(4, 7)), 255)
    # Unknown part names of a person are an error naming the file.
    savemat(path, _anno([('person', 15, person, [('tail', masks['wheel'])])]))
    with pytest.raises(ValueError, match=f"'tail' in {path}"):
        read_human_parts_mat(str(path))


@pytest.fixture
def pascal_copy(synthetic_pascal_root, tmp_path) -> Path:
    return Path(shutil.copytree(synthetic_pascal_root, tmp_path / 'pascal'))


def test_semseg_folder_priority(pascal_copy):
    # MTI-Net layout: labels directly in semseg/.
    for png in (pascal_copy / 'semseg' / 'pascal-context').glob('*.png'):
        shutil.move(str(png), pascal_copy / 'semseg' / png.name)
    dataset = _dataset(pascal_copy, tasks=['semseg'])
    assert dataset[0]['seg_map_path'] == str(pascal_copy / 'semseg' / 'train_00000.png')
    # Official VOC12 masks take precedence where present; they are palette
    # PNGs whose pixels are class indices (255 on the void border).
    (pascal_copy / 'semseg' / 'VOC12').mkdir()
    voc = np.zeros((48, 64), np.uint8)
    voc[10:30, 20:40] = 15
    voc[9, 19:41] = 255
    image = Image.fromarray(voc)
    image.putpalette([c for colour in voc_palette(256) for c in colour])
    image.save(pascal_copy / 'semseg' / 'VOC12' / 'train_00000.png')
    results = _dataset(pascal_copy, tasks=['semseg'])[0]
    assert results['seg_map_path'].endswith('VOC12/train_00000.png')
    np.testing.assert_array_equal(results['gt_sem_seg'], voc)


def test_bad_pascal_files(pascal_copy):
    (pascal_copy / 'human_parts' / 'train_00001.mat').unlink()
    with pytest.raises(FileNotFoundError, match='train_00001: human_parts'):
        _dataset(pascal_copy)
    assert len(_dataset(pascal_copy, tasks=['semseg', 'edge'])) == 6
    savemat(pascal_copy / 'pascal-context' / 'trainval' / 'train_00003.mat',
            {'Labels': np.zeros((48, 64))})
    with pytest.raises(KeyError, match="'LabelMap' missing in .*train_00003.mat"):
        _dataset(pascal_copy, tasks=['edge'])[3]
    sem = pascal_copy / 'semseg' / 'pascal-context' / 'train_00004.png'
    cv2.imwrite(str(sem), np.full((48, 64), 30, np.uint8))
    with pytest.raises(ValueError, match=rf'\[30\] in {sem}'):
        _dataset(pascal_copy, tasks=['semseg'])[4]
