"""SamplingGrid: the affine record moves exactly as a per-pixel grid moved by array
operations, and the kinds' value rules act on its factors."""
import numpy as np
import pytest

from mmmtl.tasks import TASK_KINDS, SamplingGrid

H, W = 12, 18


def as_array(grid: SamplingGrid) -> np.ndarray:
    """(H, W, 2) coordinates, NaN where the record has no value."""
    coords, valid = grid.dense()
    coords = coords.numpy().astype(np.float64)
    coords[~valid.numpy()] = np.nan
    return coords


OPS = {  # name -> (record operation, the same on a per-pixel array)
    'crop': (lambda g: g.crop((2, 10, 3, 15)), lambda a: a[2:10, 3:15]),
    'crop_past_the_edge': (lambda g: g.crop((4, 40, 0, 40)), lambda a: a[4:40, 0:40]),
    'hflip': (lambda g: g.flip('horizontal'), lambda a: a[:, ::-1]),
    'vflip': (lambda g: g.flip('vertical'), lambda a: a[::-1]),
    'pad': (lambda g: g.pad((g.height + 3, g.width + 5)),
            lambda a: np.pad(a, ((0, 3), (0, 5), (0, 0)), constant_values=np.nan)),
}


@pytest.mark.parametrize('seed', range(6))
def test_crop_flip_pad_equal_the_same_operations_on_the_dense_grid(seed):
    rng = np.random.default_rng(seed)
    grid = SamplingGrid.identity(H, W)
    array = as_array(grid)
    for name in rng.choice(list(OPS), size=5):
        on_record, on_array = OPS[name]
        grid, array = on_record(grid), on_array(array)
        expected = as_array(grid)
        assert expected.shape == array.shape, name
        np.testing.assert_allclose(expected, array, atol=1e-6, equal_nan=True)


def test_resize_keeps_pixel_centres_and_applies_the_depth_rule():
    depth, normal = TASK_KINDS['depth'], TASK_KINDS['normal']
    grid = SamplingGrid.identity(H, W, [depth, normal]).resize((18, 36), image_scale=1.5)
    coords, valid = grid.dense()
    # pixel x of the resized image is at (x + 0.5) / 2 pixels of the original: its
    # normalised coordinate is (x + 0.5) / 2 * 2 / W - 1
    xs = (np.arange(36) + 0.5) / 2 * 2 / W - 1
    ys = (np.arange(18) + 0.5) / 1.5 * 2 / H - 1
    np.testing.assert_allclose(coords[0, :, 0], xs, atol=1e-6)
    np.testing.assert_allclose(coords[:, 0, 1], ys, atol=1e-6)
    assert valid.all()
    np.testing.assert_allclose(grid.factors['depth'], [1 / 1.5])
    np.testing.assert_allclose(grid.factors['normal'], [1, 1, 1])
    flipped = grid.flip('horizontal').flip('vertical')
    np.testing.assert_allclose(flipped.factors['normal'], [-1, -1, 1])
    np.testing.assert_allclose(flipped.factors['depth'], [1 / 1.5])
    assert grid.resize((18, 36)).factors['depth'] == grid.factors['depth']  # no rescale


def test_dense_places_the_grid_in_a_padded_batch():
    grid = SamplingGrid.identity(H, W)
    inner, _ = grid.dense()
    coords, valid = grid.dense(H + 4, W + 6, top=3, left=2)
    np.testing.assert_allclose(coords[3:3 + H, 2:2 + W], inner, atol=1e-6)
    assert valid[3:3 + H, 2:2 + W].all() and valid.sum() == H * W


def test_errors_name_the_problem():
    grid = SamplingGrid.identity(H, W)
    with pytest.raises(ValueError, match='direction'):
        grid.flip('diagonal')
    with pytest.raises(ValueError, match='smaller'):
        grid.pad((H - 1, W))
    with pytest.raises(TypeError):  # not an array: a transform that slices it fails
        grid[0:2]
