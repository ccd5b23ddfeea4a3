"""MultiTaskVisualizer: image | gt | pred | key per task, colours, overlay, keys, files."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmmtl.registry import VISUALIZERS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.visualization import (
    MultiTaskVisualizer,
    colorize_depth,
    colorize_labels,
    colorize_normals,
)

TASKS = ['semseg', 'depth', 'normal', 'edge', 'saliency', 'human_parts']
H, W = 40, 60
CAPTION_ROWS = 20  # the caption is drawn in the top rows of each tile
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
    # alpha 1: label maps cover the image, so tiles hold the palette colours
    vis = MultiTaskVisualizer(name=f'vis_{tmp_path.name}', tile_height=H,
                              vis_backends=[dict(type='LocalVisBackend')],
                              save_dir=str(tmp_path), classes=['a', 'b', 'c', 'd'],
                              palette=SEMSEG_PALETTE, alpha=1.)
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
    # three tile columns, then each task's key (the widest sets the width)
    assert drawn.shape[0] == H * len(TASKS) and drawn.shape[1] > W * 3
    assert drawn.dtype == np.uint8
    # the image column holds the image (below the caption)
    assert (tile(drawn, 0, 0)[CAPTION_ROWS:] == 128).all()
    # semseg gt uses the dataset palette, the ignore pixel (bottom right) shows the image
    gt = tile(drawn, 0, 1)
    labels = sample.gt_sem_seg.data[0].numpy()
    body = labels[CAPTION_ROWS:-1]
    np.testing.assert_array_equal(gt[CAPTION_ROWS:-1], np.asarray(SEMSEG_PALETTE)[body])
    assert gt[-1, -1].tolist() == [128, 128, 128]
    # without gt column and keys: two columns
    visualizer.draw_keys = False
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
    visualizer.draw_keys = False
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
    visualizer.draw_keys = False
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
    np.testing.assert_array_equal(stored[..., ::-1], written[..., ::-1])


def test_tensorboard_backend(tmp_path):
    pytest.importorskip('tensorboard', reason='tensorboard is not installed in the venv')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    vis = MultiTaskVisualizer(name=f'tb_{tmp_path.name}', tile_height=H, save_dir=str(tmp_path),
                              vis_backends=[dict(type='TensorboardVisBackend')],
                              draw_keys=False)
    vis.add_datasample('sample', np.zeros((H, W, 3), np.uint8), full_sample(), step=3)
    vis.close()
    events = list(tmp_path.rglob('events.out.tfevents*'))
    assert events
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    images = accumulator.Images('sample')
    assert [(e.step, e.height, e.width) for e in images] == [(3, H * len(TASKS), 3 * W)]


def test_label_maps_blend_over_the_image_with_opacity(visualizer):
    visualizer.alpha = 0.4
    image = np.random.RandomState(1).randint(0, 256, (H, W, 3)).astype(np.uint8)
    sample = full_sample(tasks=['semseg'])
    drawn = visualizer.draw_multitask(image, sample)
    labels = sample.gt_sem_seg.data[0].numpy()
    colors = np.asarray(SEMSEG_PALETTE, np.float64)[np.where(labels == 255, 0, labels)]
    expected = np.round(0.4 * colors + 0.6 * image).astype(np.uint8)
    expected[-1, -1] = image[-1, -1]  # ignored gt pixel: the image alone
    np.testing.assert_array_equal(tile(drawn, 0, 1)[CAPTION_ROWS:], expected[CAPTION_ROWS:])
    pred_colors = np.asarray(SEMSEG_PALETTE, np.float64)[sample.pred_sem_seg.data[0].numpy()]
    np.testing.assert_array_equal(tile(drawn, 0, 2)[CAPTION_ROWS:],
                                  np.round(0.4 * pred_colors + 0.6 * image)[CAPTION_ROWS:])
    # depth is not a label map: drawn alone, whatever the image
    depth = visualizer.draw_multitask(image, full_sample(tasks=['depth']))
    assert not np.array_equal(tile(depth, 0, 1), visualizer.blend(image, tile(depth, 0, 1)))


def color_count(panel, color):
    return int((panel == np.asarray(color, np.uint8)).all(axis=-1).sum())


def test_legend_lists_exactly_the_classes_present(tmp_path):
    palette = [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48]]
    vis = MultiTaskVisualizer(name=f'legend_{tmp_path.name}', tile_height=120,
                              classes=['wall', 'floor', 'cabinet', 'bed', 'chair'],
                              palette=palette)
    sample = MultiTaskDataSample(metainfo=dict(tasks=['semseg']))
    gt = torch.tensor([[[1, 1, 3, 255]]]).repeat(1, 3, 1)  # classes 1, 3 and ignore
    sample.gt_sem_seg = PixelData(data=gt)
    sample.pred_sem_seg = PixelData(data=torch.tensor([[[1, 2, 2, 1]]]).repeat(1, 3, 1))
    key = vis.draw_multitask(np.zeros((3, 4, 3), np.uint8), sample)[:, 3 * 160:]
    for index, color in enumerate(palette):
        # a swatch of every class in gt or pred, none of the others
        assert (color_count(key, color) >= 25) == (index in (1, 2, 3)), index
    # the names are the dataset's: a longer name makes a wider legend
    vis.dataset_meta = dict(vis.dataset_meta, classes=['wall', 'floor', 'cabinet', 'bed',
                                                       'a-much-longer-class-name', ])
    assert vis.draw_multitask(np.zeros((3, 4, 3), np.uint8), sample).shape[1] == key.shape[1] + 480
    vis.dataset_meta['classes'][2] = 'kitchen-cabinet-and-shelves'
    assert vis.draw_multitask(np.zeros((3, 4, 3), np.uint8), sample).shape[1] > key.shape[1] + 480


def test_depth_key_is_a_colour_bar_over_the_drawn_range(visualizer):
    visualizer.tile_height = 120
    sample = full_sample(tasks=['depth'])
    drawn = visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8), sample)
    key = drawn[:, 3 * 180:]
    depth = sample.gt_depth.data[0].numpy()
    low, high = float(depth[depth > 0].min()), float(depth.max())
    bar = colorize_depth(np.linspace(high, low, 256)[:, None], (low, high))[:, 0]
    # the bar's column holds the colour map from the far (top) to the near (bottom) end
    column = next(x for x in range(key.shape[1]) if color_count(key[:, x:x + 1], bar[0]))
    colors = key[:, column]
    shown = colors[(colors != colors[:, :1]).any(-1)]  # not white, black or grey text
    assert len(shown) > 60
    np.testing.assert_array_equal(shown[0], bar[0])
    np.testing.assert_array_equal(shown[-1], bar[-1])
    turbo_index = [np.abs(bar.astype(int) - c).sum(-1).argmin() for c in shown]
    assert (np.diff(turbo_index) >= 0).all()  # high on top, monotone downwards


def test_normal_key_is_a_sphere_in_the_normal_colours(visualizer):
    visualizer.tile_height = 120
    drawn = visualizer.draw_multitask(np.zeros((H, W, 3), np.uint8),
                                      full_sample(tasks=['normal']))
    key = drawn[:, 3 * 180:].astype(int)
    # the centre of the sphere faces the camera: normal (0, 0, -1)
    facing = colorize_normals(np.array([0., 0., -1.]).reshape(3, 1, 1))[0, 0].astype(int)
    y, x = np.unravel_index(np.abs(key - facing).sum(-1).argmin(), key.shape[:2])
    assert np.abs(key[y, x] - facing).max() <= 8
    # to the right the surface turns right (x -> red grows), below it turns down (green grows)
    row = key[y, x:]
    inside = row[:np.argmax((row == 255).all(-1))]
    assert len(inside) > 20 and (np.diff(inside[:, 0]) >= 0).all() and inside[-1, 0] > 230
    below = key[y:, x]
    inside = below[:np.argmax((below == 255).all(-1))]
    assert len(inside) > 20 and (np.diff(inside[:, 1]) >= 0).all() and inside[-1, 1] > 230


def test_comparison_shows_the_image_in_every_row(visualizer):
    image = np.random.RandomState(2).randint(0, 256, (H, W, 3)).astype(np.uint8)
    gt = full_sample(tasks=['semseg', 'depth', 'normal'])
    drawn = visualizer.draw_comparison(image, gt, dict(a=gt, b=gt))
    for row in range(3):
        np.testing.assert_array_equal(tile(drawn, row, 0)[CAPTION_ROWS:], image[CAPTION_ROWS:])
    assert drawn.shape[0] == 3 * H and drawn.shape[1] > 4 * W  # image, gt, a, b, key


def test_label_names_come_from_the_dataset_metainfo_keys():
    from mmmtl.visualization.multitask_visualizer import task_classes
    # PascalContextMTLDataset.METAINFO names the parts part_classes
    meta = dict(classes=['bg', 'person'], part_classes=['bg', 'head'])
    assert task_classes('semseg', meta) == ['bg', 'person']
    assert task_classes('human_parts', meta) == ['bg', 'head']
    assert task_classes('human_parts', dict(meta, human_parts_classes=['x'])) == ['x']
    assert task_classes('depth', meta) is None


@pytest.mark.parametrize('tile_height', [8, 13, 24])
def test_keys_of_tiny_tiles(tile_height, tmp_path):
    vis = MultiTaskVisualizer(name=f'tiny_{tile_height}_{tmp_path.name}',
                              tile_height=tile_height)
    drawn = vis.draw_multitask(np.zeros((H, W, 3), np.uint8), full_sample())
    assert drawn.shape[0] == tile_height * len(TASKS)
