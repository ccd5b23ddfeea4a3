"""Teacher-cache storage: round trip, crash safety, manifest comparison, read errors."""
import os

import numpy as np
import pytest

from mmmtl.utils import teacher_cache as tc


def manifest(samples=('a', 'b'), scale=0.5, dtype='float16', **overrides) -> dict:
    kwargs = dict(
        teacher=dict(config='t.py', config_sha256='c' * 64, checkpoint='t.pth',
                     checkpoint_sha256='d' * 64),
        dataset_type='NYUDv2MTLDataset', data_root='data/x', split='train',
        samples={s: f'images/{s}.png' for s in samples}, tasks=['semseg', 'depth'],
        outputs=[('semseg', 4), ('depth', 1)], scale=scale, dtype=dtype,
        view=dict(pipeline=[dict(type='LoadImageFromFile', keys=('img', ))]))
    kwargs.update(overrides)
    return tc.make_manifest(**kwargs)


def test_round_trip(tmp_path):
    tc.write_manifest(str(tmp_path), manifest())
    semseg = np.random.RandomState(0).randn(3, 5, 4).astype(np.float32)
    depth = np.arange(15, dtype=np.float32).reshape(3, 5, 1)
    tc.write_entry(str(tmp_path), 'a', [semseg, depth], 'float16')
    cache = tc.TeacherCache(str(tmp_path))
    array = cache.read_array('a')
    assert type(array) is np.ndarray and array.flags.writeable  # read whole, in one read
    assert array.dtype == np.float16 and array.shape == (3, 5, 5)
    assert cache.slices == dict(semseg=slice(0, 4), depth=slice(4, 5))
    np.testing.assert_array_equal(array[..., cache.slices['semseg']], semseg.astype(np.float16))
    np.testing.assert_array_equal(array[..., cache.slices['depth']], depth)
    assert cache.missing() == ['b']
    assert not [n for n in os.listdir(tmp_path / 'entries') if 'partial' in n]


def test_manifest_reads_back_as_written(tmp_path):
    written = manifest()
    tc.write_manifest(str(tmp_path), written)
    assert tc.read_manifest(str(tmp_path)) == written  # tuples already lists: comparable
    assert written['dataset']['data_root'] == os.path.abspath('data/x')


def test_a_crash_while_writing_leaves_no_entry(tmp_path, monkeypatch):
    tc.write_manifest(str(tmp_path), manifest())

    def crash(handle, array):
        handle.write(b'\x93NUMPY half a header')
        raise KeyboardInterrupt  # the process dies mid-write

    monkeypatch.setattr(np, 'save', crash)
    with pytest.raises(KeyboardInterrupt):
        tc.write_entry(str(tmp_path), 'a', [np.zeros((3, 5, 5), np.float32)], 'float16')
    monkeypatch.undo()
    assert not os.path.exists(tc.entry_path(str(tmp_path), 'a'))
    assert tc.TeacherCache(str(tmp_path)).missing() == ['a', 'b']
    with pytest.raises(FileNotFoundError, match="image 'images/a.png'"):
        tc.TeacherCache(str(tmp_path)).read_array('a', 'images/a.png')


def test_read_errors_name_the_image(tmp_path):
    tc.write_manifest(str(tmp_path), manifest())
    cache = tc.TeacherCache(str(tmp_path))
    with pytest.raises(KeyError, match="'c.png'.*split 'train'"):
        cache.read_array('c', 'c.png')
    os.makedirs(tmp_path / 'entries')
    (tmp_path / 'entries' / 'a.npy').write_bytes(b'not an array')
    with pytest.raises(ValueError, match="a.npy of image 'a.png'.*unreadable"):
        cache.read_array('a', 'a.png')
    np.save(tmp_path / 'entries' / 'b.npy', np.zeros((3, 5, 4), np.float16))
    with pytest.raises(ValueError, match=r"image 'b.png'.*\(3, 5, 4\).*\(h, w, 5\)"):
        cache.read_array('b', 'b.png')


def test_manifest_differences_name_the_key():
    ours = manifest()
    assert tc.manifest_differences(ours, manifest()) == []
    theirs = manifest(scale=0.25, split='val')
    differences = tc.manifest_differences(ours, {k: theirs[k] for k in ('scale', 'dataset')})
    assert any(d.startswith('scale: the cache has 0.5, the run has 0.25') for d in differences)
    assert any(d.startswith("dataset.split: the cache has 'train'") for d in differences)


def test_bad_manifest_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match='manifest.json'):
        tc.read_manifest(str(tmp_path))
    (tmp_path / 'manifest.json').write_text('{"format": "other"}')
    with pytest.raises(ValueError, match='not a mmmtl-teacher-cache manifest'):
        tc.read_manifest(str(tmp_path))
    with pytest.raises(ValueError, match='scale'):
        manifest(scale=2.0)
    with pytest.raises(ValueError, match='dtype'):
        manifest(dtype='int8')


def test_stored_size_rounds_and_keeps_a_pixel():
    assert tc.stored_size(480, 640, 0.25) == (120, 160)
    assert tc.stored_size(375, 500, 0.25) == (94, 125)
    assert tc.stored_size(3, 3, 0.1) == (1, 1)
