"""save_task_prediction: the file format of every task, read back."""
import cv2
import numpy as np
import pytest
import torch

from mmmtl.visualization import DEPTH_PNG_SCALE, save_task_prediction


def read(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)


def test_label_png_is_8_bit_or_16_bit(tmp_path):
    labels = torch.tensor([[[0, 3], [39, 255]]])
    (path, ) = save_task_prediction('semseg', labels, str(tmp_path), 'a')
    assert read(path).dtype == np.uint8
    np.testing.assert_array_equal(read(path), labels[0].numpy())
    many = torch.tensor([[[0, 300], [1000, 7]]])
    (path, ) = save_task_prediction('human_parts', many, str(tmp_path / 'parts'), 'b')
    assert read(path).dtype == np.uint16
    np.testing.assert_array_equal(read(path), many[0].numpy())


def test_depth_npy_and_millimetre_png(tmp_path):
    depth = np.array([[[0.0, 1.2345], [70.0, 3.0004]]], np.float32)
    npy, png = save_task_prediction('depth', depth, str(tmp_path), 'd')
    np.testing.assert_array_equal(np.load(npy), depth[0])
    assert read(png).dtype == np.uint16
    np.testing.assert_array_equal(read(png), [[0, 1234], [65535, 3000]])  # 70 m saturates
    assert DEPTH_PNG_SCALE == 1000
    assert save_task_prediction('depth', depth, str(tmp_path / 'n'), 'd',
                                depth_png=False) == [str(tmp_path / 'n' / 'd.npy')]


def test_normals_rgb_and_probabilities(tmp_path):
    normal = np.zeros((3, 1, 2), np.float32)
    normal[:, 0, 0] = (1, 0, 0)
    normal[:, 0, 1] = (0, -1, 0)
    (path, ) = save_task_prediction('normal', normal, str(tmp_path), 'n')
    rgb = read(path)[..., ::-1]
    np.testing.assert_array_equal(rgb[0, 0], [255, 128, 128])
    np.testing.assert_array_equal(rgb[0, 1], [128, 0, 128])
    prob = np.array([[[0.0, 0.5, 1.0, 1.7]]], np.float32)
    (path, ) = save_task_prediction('saliency', prob, str(tmp_path), 's')
    np.testing.assert_array_equal(read(path), [[0, 128, 255, 255]])


def test_wrong_shape_names_the_task(tmp_path):
    with pytest.raises(ValueError, match="task 'normal' must be \\(3, H, W\\)"):
        save_task_prediction('normal', np.zeros((1, 4, 4)), str(tmp_path), 'x')
    with pytest.raises(KeyError, match='Unknown task'):
        save_task_prediction('flow', np.zeros((1, 4, 4)), str(tmp_path), 'x')
