"""MultiTaskVisualizer: image | gt | pred grid per task, colours, files and backends."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmmtl.registry import VISUALIZERS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.visualization import MultiTaskVisualizer, colorize_depth, colorize_labels

TASKS = ['semseg', 'depth', 'normal', 'edge', 'saliency', 'human_parts']
H, W = 40, 60
CAPTION_ROWS = 16  # the caption is drawn in the top rows of each tile
SEMSEG_PALETTE = [[10, 10, 10], [200, 0, 0], [0, 200, 0], [0, 0, 200]]
PARTS_PALETTE = [[1, 2, 3], [50, 60, 70], [90, 100, 110], [130, 140, 150]]


def full_sample(tasks=TASKS):
    """A sample with gt and pred of all six tasks, (H, W) maps.

    Every prediction differs from its ground truth, so that a grid with the
    gt and pred columns swapped fails the tests.
    """
    gen = torch.Generator().manual_seed(0)
    sample = MultiTaskDataSample(metainfo=dict(tasks=tasks, img_path='x.png'))
    sem = torch.randint(0, 4, (1, H, W), generator=gen)
    sem[0, -1, -1] = 255
    sample.gt_sem_seg = PixelData(data=sem)
    sample.pred_sem_seg = PixelData(data=(sem.clamp(max=3) + 1) % 4)
    depth = torch.rand(1, H, W, generator=gen) * 3 + 1
    depth[0, -5:, -5:] = 0  # invalid gt
    pred_depth = depth.clone()
    pred_depth[0, -5:, -5:] = 2.
    pred_depth[0, 0, 0] = 100.  # far outside the gt range, inside the caption
    sample.gt_depth, sample.pred_depth = PixelData(data=depth), PixelData(data=pred_depth)
    normal = torch.nn.functional.normalize(torch.randn(3, H, W, generator=gen), dim=0)
    normal[:, -1, -1] = 0  # invalid
    sample.gt_normal, sample.pred_normal = PixelData(data=normal), PixelData(data=-normal)
    edge = (torch.rand(1, H, W, generator=gen) > 0.9).long()
    edge[0, -1, -1] = 255
    sample.gt_edge = PixelData(data=edge)
    sample.pred_edge = PixelData(data=0.1 + 0.6 * (edge == 1).float())
    sample.gt_saliency = PixelData(data=edge.clone())
    sample.pred_saliency = PixelData(data=torch.full((1, H, W), 0.5))
    parts = sem.clone()
    sample.gt_human_parts = PixelData(data=parts)
    sample.pred_human_parts = PixelData(data=(parts.clamp(max=3) + 2) % 4)
    return sample


def tile(drawn, row, col):
    """The tile of task row ``row`` and column ``col`` (0 image, 1 gt, 2 pred)."""
    return drawn[row * H:(row + 1) * H, col * W:(col + 1) * W]


@pytest.fixture
def visualizer(tmp_path):
    vis = MultiTaskVisualizer(name=f'vis_{tmp_path.name}', tile_height=H,
                              vis_backends=[dict(type='LocalVisBackend')],
                              save_dir=str(tmp_path), classes=['a', 'b', 'c', 'd'],
                              palette=SEMSEG_PALETTE)
    return vis


def test_registered_and_no_cityscapes_default(tmp_path):
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmmtl'):  # other tests may switch scopes
        vis = VISUALIZERS.build(dict(type='MultiTaskVisualizer', name=f'reg_{tmp_path.name}'))
    assert isinstance(vis, MultiTaskVisualizer)
    assert vis.dataset_meta == {}  # no Cityscapes palette for NYUD / PASCAL labels


def test_grid_has_one_row_per_task_and_three_columns(visualizer):
    image = np.full((H, W, 3), 128, np.uint8)
    sample = full_sample()
    drawn = visualizer.draw_multitask(image, sample)
    assert drawn.shape == (H * len(TASKS), W * 3, 3) and drawn.dtype == np.uint8
    # the image column holds the image (below the caption)
    assert (tile(drawn, 0, 0)[CAPTION_ROWS:] == 128).all()
    # semseg gt uses the dataset palette, the ignore pixel (bottom right) is black
    gt = tile(drawn, 0, 1)
    labels = sample.gt_sem_seg.data[0].numpy()
    body = labels[CAPTION_ROWS:-1]
    np.testing.assert_array_equal(gt[CAPTION_ROWS:-1], np.asarray(SEMSEG_PALETTE)[body])
    assert gt[-1, -1].tolist() == [0, 0, 0]
    # without gt column: two columns
    assert visualizer.draw_multitask(image, sample, draw_gt=False).shape == (
        H * len(TASKS), W * 2, 3)


def test_depth_gt_and_pred_share_the_gt_range(visualizer):
    drawn = visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), full_sample())
    gt, pred = tile(drawn, 1, 1), tile(drawn, 1, 2)
    # pred has a 100 m outlier (under the caption): with its own range every
    # other pixel would be dark; with the gt range equal depths -> equal colours
    np.testing.assert_array_equal(gt[CAPTION_ROWS:, :-5], pred[CAPTION_ROWS:, :-5])
    assert (gt[-5:, -5:] == 0).all()  # invalid gt depth is black
    assert (pred[-5:, -5:] != 0).any(axis=-1).all()  # predicted there: coloured


def inferno(values):
    """OpenCV's inferno map of [0, 1] values, RGB (the reference of the heat maps)."""
    scaled = np.round(np.clip(values, 0, 1) * 255).astype(np.uint8)
    return cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO)[..., ::-1]


def test_normals_edges_saliency_colours(visualizer):
    sample = full_sample()
    drawn = visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), sample)
    for col, field in ((1, sample.gt_normal), (2, sample.pred_normal)):
        normal = field.data.numpy()
        expected = np.round((normal + 1) / 2 * 255).astype(np.uint8).transpose(1, 2, 0)
        expected[-1, -1] = 0
        np.testing.assert_array_equal(tile(drawn, 2, col)[CAPTION_ROWS:],
                                      expected[CAPTION_ROWS:])
    edge_gt, edge_pred = tile(drawn, 3, 1), tile(drawn, 3, 2)
    edge = sample.gt_edge.data[0].numpy()
    on, off = np.argwhere(edge[CAPTION_ROWS:] == 1)[0], np.argwhere(edge[CAPTION_ROWS:] == 0)[0]
    on[0] += CAPTION_ROWS
    off[0] += CAPTION_ROWS
    assert edge_gt[tuple(on)].sum() > 3 * edge_gt[tuple(off)].sum()  # edge brighter
    # gt: the 0 / 1 heat map, ignored pixel grey; pred: the probabilities
    np.testing.assert_array_equal(edge_gt[CAPTION_ROWS:-1],
                                  inferno(edge[CAPTION_ROWS:-1].astype(float)))
    assert edge_gt[-1, -1].tolist() == [96, 96, 96]  # ignored gt pixel grey
    np.testing.assert_array_equal(edge_pred[CAPTION_ROWS:],
                                  inferno(sample.pred_edge.data[0].numpy()[CAPTION_ROWS:]))
    saliency_gt, saliency_pred = tile(drawn, 4, 1)[CAPTION_ROWS:], tile(drawn, 4, 2)[CAPTION_ROWS:]
    assert (saliency_pred == inferno(np.array([[0.5]]))[0, 0]).all()  # constant 0.5 map
    np.testing.assert_array_equal(
        saliency_gt[:-1], inferno(sample.gt_saliency.data[0].numpy()[CAPTION_ROWS:-1]))


def test_label_columns_hold_gt_and_pred(visualizer):
    """Column 1 draws the ground truth, column 2 the prediction (they differ here)."""
    visualizer.set_dataset_meta(classes=['a', 'b', 'c', 'd'], palette=SEMSEG_PALETTE,
                                human_parts_classes=['bg', 'head', 'torso', 'arm'],
                                human_parts_palette=PARTS_PALETTE)
    sample = full_sample()
    drawn = visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), sample)
    for row, palette, gt, pred in ((0, SEMSEG_PALETTE, sample.gt_sem_seg, sample.pred_sem_seg),
                                   (5, PARTS_PALETTE, sample.gt_human_parts,
                                    sample.pred_human_parts)):
        gt_labels = gt.data[0].numpy()[CAPTION_ROWS:-1]
        pred_labels = pred.data[0].numpy()[CAPTION_ROWS:-1]
        assert (gt_labels != pred_labels).all()
        np.testing.assert_array_equal(tile(drawn, row, 1)[CAPTION_ROWS:-1],
                                      np.asarray(palette)[gt_labels])
        np.testing.assert_array_equal(tile(drawn, row, 2)[CAPTION_ROWS:-1],
                                      np.asarray(palette)[pred_labels])


def test_human_parts_palette_from_dataset_metainfo(visualizer):
    # the runner sets dataset_meta = dataset.metainfo (PascalContextMTLDataset
    # names the parts palette part_palette)
    visualizer.dataset_meta = dict(classes=['a', 'b', 'c', 'd'], palette=SEMSEG_PALETTE,
                                   part_classes=['bg', 'head', 'torso', 'arm'],
                                   part_palette=PARTS_PALETTE)
    sample = full_sample()
    drawn = visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), sample)
    labels = sample.gt_human_parts.data[0].numpy()[CAPTION_ROWS:-1]
    np.testing.assert_array_equal(tile(drawn, 5, 1)[CAPTION_ROWS:-1],
                                  np.asarray(PARTS_PALETTE)[labels])
    visualizer.set_dataset_meta(human_parts_classes=['bg', 'head', 'torso', 'arm'],
                                human_parts_palette=PARTS_PALETTE[::-1])
    drawn = visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), sample)
    np.testing.assert_array_equal(tile(drawn, 5, 1)[CAPTION_ROWS:-1],
                                  np.asarray(PARTS_PALETTE[::-1])[labels])
    with pytest.raises(ValueError, match='human_parts has 2 classes but 4'):
        visualizer.set_dataset_meta(human_parts_classes=['a', 'b'],
                                    human_parts_palette=PARTS_PALETTE)


def test_tasks_from_fields_and_bad_input(visualizer):
    sample = MultiTaskDataSample()
    sample.pred_depth = PixelData(data=torch.ones(1, H, W))
    drawn = visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), sample)
    assert drawn.shape == (H, 3 * W, 3)
    assert (tile(drawn, 0, 1)[CAPTION_ROWS:] == 0).all()  # no gt: black tile
    with pytest.raises(KeyError, match="'foo'"):
        visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8),
                                  MultiTaskDataSample(metainfo=dict(tasks=['foo'])))
    sample.gt_normal = PixelData(data=torch.ones(1, H, W))
    sample.set_metainfo(dict(tasks=['normal']))
    with pytest.raises(ValueError, match=r"gt_normal of task 'normal' must have shape \(3"):
        visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), sample)
    with pytest.raises(ValueError, match='no task to draw'):
        visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), MultiTaskDataSample())


def test_predictions_at_another_size_are_resized(visualizer):
    sample = full_sample(tasks=['depth'])
    image = np.zeros((2 * H, 2 * W, 3), np.uint8)  # tiles keep the image aspect
    assert visualizer.draw_multitask(image, sample).shape == (H, 3 * W, 3)


def test_colorize_functions():
    colored = colorize_depth(np.array([[1., 2.], [3., 0.]]), (1., 3.))
    assert colored[1, 1].tolist() == [0, 0, 0]
    assert len({tuple(c) for c in colored.reshape(-1, 3)[:3]}) == 3
    out = colorize_labels(np.array([[1, 255, 2]]), palette=[[0, 0, 0], [9, 8, 7]])
    assert out[0, 0].tolist() == [9, 8, 7] and out[0, 1].tolist() == [0, 0, 0]
    assert out[0, 2].any()  # a class beyond the palette gets a fallback colour


def test_add_datasample_writes_out_file_and_local_backend(visualizer, tmp_path):
    image = np.random.RandomState(0).randint(0, 255, (H, W, 3)).astype(np.uint8)
    sample = full_sample()
    out_file = tmp_path / 'out' / 'pic.png'
    visualizer.add_datasample('x', image, sample, out_file=str(out_file))
    written = cv2.imread(str(out_file))
    np.testing.assert_array_equal(written[..., ::-1], visualizer.draw_multitask(image, sample))
    visualizer.add_datasample('val_x.png', image, sample, step=7)
    stored = cv2.imread(str(tmp_path / 'vis_data' / 'vis_image' / 'val_x.png_7.png'))
    assert stored.shape == (H * len(TASKS), 3 * W, 3)


def test_tensorboard_backend(tmp_path):
    pytest.importorskip('tensorboard', reason='tensorboard is not installed in the venv')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    vis = MultiTaskVisualizer(name=f'tb_{tmp_path.name}', tile_height=H, save_dir=str(tmp_path),
                              vis_backends=[dict(type='TensorboardVisBackend')])
    vis.add_datasample('sample', np.zeros((H, W, 3), np.uint8), full_sample(), step=3)
    vis.close()
    events = list(tmp_path.rglob('events.out.tfevents*'))
    assert events
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    images = accumulator.Images('sample')
    assert [(e.step, e.height, e.width) for e in images] == [(3, H * len(TASKS), 3 * W)]
