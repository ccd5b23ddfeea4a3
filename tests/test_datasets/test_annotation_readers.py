"""Annotation readers against the reference loaders' rules.

- PASCAL-Context edges: ``skimage.morphology.thin`` of the Laplacian band of
  ``LabelMap`` (MTI-Net / ATRC ``_load_edge``), pixel for pixel;
- label PNGs read as Pillow reads them (palette indices for "P" PNGs);
- normal PNGs decoded as ``2 * x / 255 - 1`` with every pixel kept.
"""
import cv2
import numpy as np
import pytest
from label_maps import generated_label_maps, reference_band
from PIL import Image
from scipy.io import savemat
from skimage.morphology import thin

from mmmtl.datasets.annotation_readers import (
    labelmap_to_edge,
    read_binary_png,
    read_context_edge,
    read_index_png,
    read_label_png,
    read_normal_npy,
    read_normal_png,
)
from mmmtl.datasets.base_mtl_dataset import voc_palette

# A palette whose colours are not the indices (VOC's), padded to 256 entries.
VOC_PALETTE = [channel for colour in voc_palette(256) for channel in colour]


def write_palette_png(path, indices: np.ndarray, palette=VOC_PALETTE) -> None:
    image = Image.fromarray(indices.astype(np.uint8))
    image.putpalette(palette)  # 'L' -> 'P'
    image.save(path)


@pytest.mark.parametrize('index', range(12))
def test_edges_are_skimage_thin_of_the_reference_band(index):
    label_map = generated_label_maps()[index]
    expected = thin(reference_band(label_map))
    assert expected.any()
    edge = labelmap_to_edge(label_map)
    assert edge.dtype == np.uint8 and set(np.unique(edge)) <= {0, 1}
    np.testing.assert_array_equal(edge.astype(bool), expected)


@pytest.mark.parametrize('dtype', [np.uint16, np.int32, np.float64])
def test_context_edge_from_mat_file(tmp_path, dtype):
    """The ``.mat`` file's LabelMap, whatever its stored type, gives the same edges."""
    label_map = generated_label_maps(seed=3)[10]
    path = tmp_path / '2008_000002.mat'
    savemat(path, {'LabelMap': label_map.astype(dtype)})
    np.testing.assert_array_equal(read_context_edge(str(path)).astype(bool),
                                  thin(reference_band(label_map)))


def test_edges_at_the_image_border():
    """The band is mirrored at the border, not padded: a boundary along the
    first column stays, and a uniform map has no edge at all."""
    label_map = np.full((9, 12), 4, np.uint16)
    label_map[:, 0] = 7
    edge = labelmap_to_edge(label_map)
    assert edge[:, :2].any() and not edge[:, 3:].any()
    np.testing.assert_array_equal(labelmap_to_edge(np.full((6, 6), 3, np.uint16)), 0)


def test_palette_png_gives_indices(tmp_path):
    rng = np.random.default_rng(0)
    indices = rng.integers(0, 21, size=(12, 17)).astype(np.uint8)
    indices[0] = 255  # VOC's void border
    path = tmp_path / '2007_000032.png'
    write_palette_png(path, indices)
    assert Image.open(path).mode == 'P'
    # OpenCV would give the palette colours: the bug this reader fixes.
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).ndim == 3
    np.testing.assert_array_equal(read_index_png(str(path)), indices)
    label = read_label_png(str(path), num_classes=21)
    assert label.dtype == np.uint8
    np.testing.assert_array_equal(label, indices)


def test_palette_png_with_reduce_zero_label(tmp_path):
    raw = np.arange(41, dtype=np.uint8).repeat(3).reshape(3, 41)
    path = tmp_path / 'seg.png'
    write_palette_png(path, raw)
    label = read_label_png(str(path), num_classes=40, reduce_zero_label=True)
    np.testing.assert_array_equal(label[raw == 0], 255)
    np.testing.assert_array_equal(label[raw > 0], raw[raw > 0] - 1)


def test_palette_png_out_of_range_names_the_file(tmp_path):
    path = tmp_path / 'bad.png'
    write_palette_png(path, np.full((4, 4), 30))
    with pytest.raises(ValueError, match=rf'\[30\] in {path}'):
        read_label_png(str(path), num_classes=21)


def test_out_of_range_error_reports_the_stored_value(tmp_path):
    """With reduce_zero_label a stored 77 is class 76: the error names the 77 in the file."""
    raw = np.full((4, 4), 5, np.uint8)
    raw[0, 0] = 77
    path = tmp_path / 'nyud_seg.png'
    Image.fromarray(raw).save(path)
    with pytest.raises(ValueError, match=rf'stored label values \[77\] in {path}') as error:
        read_label_png(str(path), num_classes=40, reduce_zero_label=True)
    assert '76' not in str(error.value)


def test_grayscale_pngs_keep_working(tmp_path):
    gray = np.arange(60, dtype=np.uint8).reshape(6, 10) % 21
    path8 = tmp_path / 'gray8.png'
    Image.fromarray(gray).save(path8)
    np.testing.assert_array_equal(read_label_png(str(path8), 21), gray)
    path16 = tmp_path / 'gray16.png'  # 16-bit, as some NYUD exports
    cv2.imwrite(str(path16), gray.astype(np.uint16) + 1)
    np.testing.assert_array_equal(
        read_label_png(str(path16), 21, reduce_zero_label=True), gray)
    # A gray map saved with three equal colour channels is still one map.
    path_rgb = tmp_path / 'gray_as_rgb.png'
    Image.fromarray(np.repeat(gray[..., None], 3, axis=2)).save(path_rgb)
    np.testing.assert_array_equal(read_label_png(str(path_rgb), 21), gray)


def test_colour_label_image_is_an_error_naming_the_file(tmp_path):
    colour = np.asarray(voc_palette(21), np.uint8)[np.arange(20).reshape(4, 5) % 21]
    path = tmp_path / 'colour.png'
    Image.fromarray(colour).save(path)
    with pytest.raises(ValueError, match=f'single-channel label map in {path}.*RGB'):
        read_label_png(str(path), 21)
    path_bad = tmp_path / 'broken.png'
    path_bad.write_bytes(b'not a png')
    with pytest.raises(ValueError, match=f'cannot decode image file {path_bad}'):
        read_label_png(str(path_bad), 21)


def test_binary_png_in_palette_mode(tmp_path):
    mask = np.zeros((5, 8), np.uint8)
    mask[1:3, 2:6] = 1
    path = tmp_path / 'sal.png'
    write_palette_png(path, mask)  # index 1 is colour (128, 0, 0)
    np.testing.assert_array_equal(read_binary_png(str(path), threshold=0.5), mask)


def test_normal_png_keeps_every_decoded_pixel(tmp_path):
    rgb = np.array([[[127, 127, 127], [128, 128, 128], [255, 128, 0]],
                    [[0, 0, 0], [255, 255, 255], [10, 200, 90]]], np.uint8)
    path = tmp_path / 'normals.png'
    Image.fromarray(rgb).save(path)
    normal = read_normal_png(str(path))
    assert normal.dtype == np.float32
    # Exactly the reference decoding, gray pixels included, no rescaling.
    np.testing.assert_array_equal(normal, 2. * rgb.astype(np.float32) / 255. - 1.)
    assert (np.linalg.norm(normal, axis=-1) > 0).all()


def test_normal_npy_zero_vector_is_the_only_ignore(tmp_path):
    normal = np.zeros((2, 3, 3), np.float32)
    normal[0, 0] = (0.01, 0.0, 0.0)  # short but valid
    normal[1, 2] = (0.0, 0.6, -0.8)
    path = tmp_path / 'normals.npy'
    np.save(path, normal)
    np.testing.assert_array_equal(read_normal_npy(str(path)), normal)
    normal[0, 1, 0] = np.nan
    np.save(path, normal)
    with pytest.raises(ValueError, match=f'{path} has non-finite'):
        read_normal_npy(str(path))
