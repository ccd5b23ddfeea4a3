"""The synthetic generator: layouts, determinism and geometric consistency."""
import filecmp
from pathlib import Path

import numpy as np
import pytest

from mmmtl.datasets.synthetic import (
    NYUD_FLOOR,
    NYUD_WALL,
    PERSON_PART_NAMES,
    make_synthetic_dataset,
    render_scene,
)


def test_render_scene_geometry_is_consistent():
    height, width = 48, 64
    scene = render_scene(np.random.default_rng(3), (height, width))
    assert scene.image.shape == (height, width, 3) and scene.image.dtype == np.uint8
    assert np.isfinite(scene.depth).all() and (scene.depth > 0).all()
    np.testing.assert_allclose(np.linalg.norm(scene.normal, axis=-1), 1, atol=1e-5)
    # Back-project the floor: every floor point lies on one plane y = const
    # (the camera height) and its normal points up (-y, camera y is down).
    focal = 0.85 * width
    v = np.arange(height)[:, None] + 0.5 - height / 2
    y_world = np.broadcast_to(v / focal, (height, width)) * scene.depth
    semseg = scene.lookup('nyud_class')
    floor = (semseg == NYUD_FLOOR) & (scene.lookup('name') == 'floor')
    assert floor.sum() > 20
    assert np.ptp(y_world[floor]) < 1e-3
    np.testing.assert_allclose(scene.normal[floor], [[0, -1, 0]] * int(floor.sum()),
                               atol=1e-6)
    # Normals face the camera: n . ray < 0 everywhere.
    u = np.arange(width)[None, :] + 0.5 - width / 2
    rays = np.stack(np.broadcast_arrays(u / focal, v / focal, np.ones((1, 1))), -1)
    assert ((scene.normal * rays).sum(-1) < 0).all()
    # The walls are planes too.
    assert (semseg == NYUD_WALL).any()


def test_render_scene_edges_are_one_pixel_boundaries():
    scene = render_scene(np.random.default_rng(0), (40, 50))
    edge = scene.edge()
    assert set(np.unique(edge)) <= {0, 1} and edge.any()
    ids = scene.surface_id
    # Every pixel whose right neighbour is another surface is an edge, and no
    # pixel inside a uniform 3x3 neighbourhood is.
    assert (edge[:, :-1][ids[:, :-1] != ids[:, 1:]] == 1).all()
    uniform = np.ones_like(ids, dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            uniform[1:-1, 1:-1] &= ids[1:-1, 1:-1] == ids[1 + dy:ids.shape[0] - 1 + dy,
                                                          1 + dx:ids.shape[1] - 1 + dx]
    assert (edge[1:-1, 1:-1][uniform[1:-1, 1:-1]] == 0).all()


def test_person_scene_has_all_parts():
    scene = render_scene(np.random.default_rng(5), (96, 128), with_person=True)
    parts = {s.part for s in scene.surfaces if s.part}
    assert parts == set(PERSON_PART_NAMES)
    visible = {scene.surfaces[i].part for i in np.unique(scene.surface_id)}
    assert 'head' in visible and 'torso' in visible


@pytest.mark.parametrize('layout, files', [
    ('nyud', ['images/train_00000.png', 'segmentation/train_00000.png',
              'depth/train_00000.npy', 'normals/train_00000.png', 'edge/train_00000.png',
              'gt_sets/train.txt', 'gt_sets/val.txt']),
    ('nyud_mt', ['images/train_00000.jpg', 'segmentation/train_00000.png',
                 'depth/train_00000.npy', 'normals/train_00000.npy', 'edge/train_00000.npy',
                 'gt_sets/train.txt', 'gt_sets/val.txt']),
    ('pascal', ['JPEGImages/train_00000.jpg', 'semseg/pascal-context/train_00000.png',
                'human_parts/train_00000.mat', 'normals_distill/train_00000.png',
                'sal_distill/train_00000.png', 'pascal-context/trainval/train_00000.mat',
                'ImageSets/Context/train.txt', 'ImageSets/Context/val.txt']),
])
def test_layouts_and_determinism(tmp_path: Path, layout, files):
    first = make_synthetic_dataset(layout, tmp_path / 'a', 2, 1, size=(24, 32), seed=7)
    second = make_synthetic_dataset(layout, tmp_path / 'b', 2, 1, size=(24, 32), seed=7)
    other = make_synthetic_dataset(layout, tmp_path / 'c', 2, 1, size=(24, 32), seed=8)
    for name in files:
        assert (first / name).is_file(), name
        assert filecmp.cmp(first / name, second / name, shallow=False), name
    assert (first / files[-2]).read_text().split() == ['train_00000', 'train_00001']
    assert not filecmp.cmp(first / files[0], other / files[0], shallow=False)


def test_bad_arguments(tmp_path: Path):
    with pytest.raises(ValueError, match='unknown layout'):
        make_synthetic_dataset('coco', tmp_path, 1, 1)
    with pytest.raises(ValueError, match='too small'):
        make_synthetic_dataset('nyud', tmp_path, 1, 1, size=(8, 8))
