"""MultiTaskVisualizer draws image | gt | pred per task, and the hook writes pictures."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmmtl.structures import MultiTaskDataSample
from mmmtl.visualization import MultiTaskVisualizer, colorize_depth, colorize_labels

TASKS = ['semseg', 'depth', 'normal', 'edge', 'saliency', 'human_parts']


def full_sample(height=20, width=30):
    torch.manual_seed(0)
    s = MultiTaskDataSample(metainfo=dict(tasks=TASKS, img_path='x.png'))
    sem = torch.randint(0, 4, (1, height, width))
    sem[0, 0, 0] = 255
    s.gt_sem_seg, s.pred_sem_seg = PixelData(data=sem), PixelData(data=sem.clamp(max=3))
    depth = torch.rand(1, height, width) * 3 + 1
    s.gt_depth, s.pred_depth = PixelData(data=depth), PixelData(data=depth.clone())
    normal = torch.nn.functional.normalize(torch.randn(3, height, width), dim=0)
    s.gt_normal, s.pred_normal = PixelData(data=normal), PixelData(data=normal)
    edge = (torch.rand(1, height, width) > 0.9).long()
    s.gt_edge, s.pred_edge = PixelData(data=edge), PixelData(data=edge.float())
    s.gt_saliency, s.pred_saliency = PixelData(data=edge), PixelData(data=edge.float())
    s.gt_human_parts, s.pred_human_parts = PixelData(data=sem), PixelData(data=sem.clamp(max=3))
    return s


@pytest.fixture
def visualizer(tmp_path):
    vis = MultiTaskVisualizer(name=f'vis_{tmp_path.name}', tile_height=20,
                              vis_backends=[dict(type='LocalVisBackend')],
                              save_dir=str(tmp_path))
    vis.dataset_meta = dict(classes=['a', 'b', 'c', 'd'],
                            palette=[[10, 10, 10], [200, 0, 0], [0, 200, 0], [0, 0, 200]])
    return vis


def test_grid_has_one_row_per_task_and_three_columns(visualizer):
    image = np.full((20, 30, 3), 128, np.uint8)
    drawn = visualizer.draw_multitask(image, full_sample())
    assert drawn.shape == (20 * len(TASKS), 30 * 3, 3)
    # semseg row: ignore (255) pixel of the gt tile is black, and the palette is used
    gt_tile = drawn[0:20, 30:60]
    assert (gt_tile[0, 0] == 0).all()
    # depth gt and pred are identical maps drawn with the same range -> same tile
    depth_row = drawn[20:40]
    assert np.array_equal(depth_row[5:, 30 + 5:60], depth_row[5:, 60 + 5:90])


def test_same_depth_range_for_gt_and_pred():
    gt = np.array([[1., 2.], [3., 0.]])
    colored = colorize_depth(gt, (1., 3.))
    assert (colored[1, 1] == 0).all()  # invalid depth is black
    assert not np.array_equal(colored[0, 0], colored[1, 0])


def test_labels_use_palette_and_black_ignore():
    out = colorize_labels(np.array([[1, 255]]), palette=[[0, 0, 0], [9, 8, 7]])
    assert out[0, 0].tolist() == [9, 8, 7] and out[0, 1].tolist() == [0, 0, 0]


def test_add_datasample_writes_file(visualizer, tmp_path):
    out_file = tmp_path / 'pic.png'
    visualizer.add_datasample('x', np.zeros((20, 30, 3), np.uint8), full_sample(),
                              out_file=str(out_file))
    assert cv2.imread(str(out_file)).shape == (120, 90, 3)


def test_tensorboard_backend(tmp_path):
    pytest.importorskip('tensorboard')
    vis = MultiTaskVisualizer(name='vis_tb', tile_height=20, save_dir=str(tmp_path),
                              vis_backends=[dict(type='TensorboardVisBackend')])
    vis.add_datasample('sample', np.zeros((20, 30, 3), np.uint8), full_sample(), step=3)
    vis.close()
    assert list(tmp_path.rglob('events.out.tfevents*'))
