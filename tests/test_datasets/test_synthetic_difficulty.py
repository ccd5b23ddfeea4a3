"""The synthetic generator's 'hard' level and third split (used by the KD study)."""
import filecmp
from pathlib import Path

import numpy as np
import pytest

from mmmtl.datasets.synthetic import NYUD_PERSON, make_synthetic_dataset, render_scene


def _scenes(difficulty, count=12, size=(48, 64)):
    rng = np.random.default_rng(5)
    return [render_scene(rng, size, difficulty=difficulty) for _ in range(count)]


def test_hard_scenes_are_geometrically_consistent():
    height, width = 48, 64
    focal = 0.85 * width
    v = np.arange(height)[:, None] + 0.5 - height / 2
    u = np.arange(width)[None, :] + 0.5 - width / 2
    rays = np.stack(np.broadcast_arrays(u / focal, v / focal, np.ones((1, 1))), -1)
    for scene in _scenes('hard'):
        assert np.isfinite(scene.depth).all() and (scene.depth > 0).all()
        np.testing.assert_allclose(np.linalg.norm(scene.normal, axis=-1), 1, atol=1e-5)
        assert ((scene.normal * rays).sum(-1) < 0).all()  # normals face the camera
        # Every pixel of one surface id carries that surface's class.
        semseg = scene.lookup('nyud_class')
        for index in np.unique(scene.surface_id):
            assert (semseg[scene.surface_id == index] == scene.surfaces[index].nyud_class).all()


def test_hard_scenes_have_more_and_smaller_structures():
    easy, hard = _scenes('easy'), _scenes('hard')

    def visible_surfaces(scene):
        return len(np.unique(scene.surface_id))

    def edge_fraction(scene):
        return scene.edge().mean()

    assert np.mean([visible_surfaces(s) for s in hard]) > np.mean(
        [visible_surfaces(s) for s in easy]) + 2
    assert np.mean([edge_fraction(s) for s in hard]) > np.mean([edge_fraction(s) for s in easy])
    # People appear in NYUD scenes only at the hard level.
    assert not any((s.lookup('nyud_class') == NYUD_PERSON).any() for s in easy)
    assert any((s.lookup('nyud_class') == NYUD_PERSON).any() for s in hard)


def test_test_split_leaves_train_and_val_unchanged(tmp_path: Path):
    plain = make_synthetic_dataset('nyud', tmp_path / 'a', num_train=3, num_val=2,
                                   size=(32, 40), seed=2)
    with_test = make_synthetic_dataset('nyud', tmp_path / 'b', num_train=3, num_val=2,
                                       size=(32, 40), seed=2, num_test=2)
    assert not (plain / 'gt_sets' / 'test.txt').exists()
    assert (with_test / 'gt_sets' / 'test.txt').read_text() == 'test_00000\ntest_00001\n'
    for split in ('train', 'val'):
        assert filecmp.cmp(plain / 'gt_sets' / f'{split}.txt',
                           with_test / 'gt_sets' / f'{split}.txt', shallow=False)
    for name in ('images/train_00002.png', 'images/val_00001.png', 'edge/val_00001.png',
                 'depth/train_00000.npy'):
        assert filecmp.cmp(plain / name, with_test / name, shallow=False)


def test_bad_difficulty_and_counts(tmp_path: Path):
    with pytest.raises(ValueError, match='difficulty'):
        make_synthetic_dataset('nyud', tmp_path, difficulty='extreme')
    with pytest.raises(ValueError, match='num_test'):
        make_synthetic_dataset('nyud', tmp_path, num_test=-1)
