"""MultiTaskVisualizationHook draws val samples to the backends and test samples to files."""
import os.path as osp
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData

from mmmtl.registry import HOOKS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.visualization import MultiTaskVisualizer

H, W = 24, 32
TASKS = ['semseg', 'depth', 'normal', 'edge']


def make_outputs(tmp_path, names):
    """Images on disk and samples with gt / pred of the NYUD tasks."""
    outputs = []
    for i, name in enumerate(names):
        img_path = tmp_path / 'images' / f'{name}.jpg'
        img_path.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(img_path), np.full((H, W, 3), 40 * i, np.uint8))
        sample = MultiTaskDataSample(metainfo=dict(tasks=TASKS, img_path=str(img_path),
                                                   ori_shape=(H, W)))
        labels = torch.randint(0, 3, (1, H, W))
        sample.gt_sem_seg, sample.pred_sem_seg = PixelData(data=labels), PixelData(data=labels)
        depth = torch.rand(1, H, W) + 1
        sample.gt_depth, sample.pred_depth = PixelData(data=depth), PixelData(data=depth)
        normal = torch.nn.functional.normalize(torch.randn(3, H, W), dim=0)
        sample.gt_normal, sample.pred_normal = PixelData(data=normal), PixelData(data=normal)
        edge = (torch.rand(1, H, W) > 0.8).long()
        sample.gt_edge, sample.pred_edge = PixelData(data=edge), PixelData(data=edge.float())
        outputs.append(sample)
    return outputs


@pytest.fixture
def runner(tmp_path):
    visualizer = MultiTaskVisualizer(name=f'hook_{tmp_path.name}', tile_height=H,
                                     vis_backends=[dict(type='LocalVisBackend')],
                                     save_dir=str(tmp_path / 'backend'),
                                     draw_keys=False)
    return SimpleNamespace(work_dir=str(tmp_path / 'work'), timestamp='20260101_000000',
                           iter=12, visualizer=visualizer)


def test_test_mode_writes_one_picture_per_sample(runner, tmp_path):
    hook = HOOKS.build(dict(type='MultiTaskVisualizationHook', draw=True, interval=1,
                            test_out_dir='vis'))
    outputs = make_outputs(tmp_path, ['a', 'b'])
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, {}, outputs)
    out_dir = osp.join(runner.work_dir, runner.timestamp, 'vis')
    for name in ('a', 'b'):
        picture = cv2.imread(osp.join(out_dir, f'{name}.png'))
        assert picture.shape == (H * len(TASKS), 3 * W, 3)
    # the image column shows the image read from img_path (grey 40 for 'b')
    picture = cv2.imread(osp.join(out_dir, 'b.png'))
    assert np.abs(picture[H - 4:H, :W].astype(int) - 40).max() <= 2  # jpeg
    # the test pictures went to files, not to the backend
    assert not (tmp_path / 'backend').exists() or not list((tmp_path / 'backend').rglob('*.png'))


class TestOnlyRunner(SimpleNamespace):
    """A runner whose ``iter`` fails as mmengine's does when the config has no
    usable train loop (it is built on first access)."""

    @property
    def iter(self):
        raise FileNotFoundError('train split file not found')


def test_test_mode_does_not_build_the_train_loop(runner, tmp_path):
    """tools/test.py --show-dir on a machine holding only the val data."""
    test_runner = TestOnlyRunner(work_dir=runner.work_dir, timestamp=runner.timestamp,
                                 visualizer=runner.visualizer)
    hook = HOOKS.build(dict(type='MultiTaskVisualizationHook', draw=True, interval=1,
                            test_out_dir='vis'))
    hook.before_test(test_runner)
    hook.after_test_iter(test_runner, 0, {}, make_outputs(tmp_path, ['a']))
    assert osp.exists(osp.join(runner.work_dir, runner.timestamp, 'vis', 'a.png'))


def test_val_mode_uses_backends_and_interval(runner, tmp_path):
    hook = HOOKS.build(dict(type='MultiTaskVisualizationHook', draw=True, interval=2))
    outputs = make_outputs(tmp_path, ['c'])
    hook.after_val_iter(runner, 0, {}, outputs)  # batch 1 of every 2: skipped
    stored = tmp_path / 'backend' / 'vis_data' / 'vis_image' / 'val_c.jpg_12.png'
    assert not stored.exists()
    hook.after_val_iter(runner, 1, {}, outputs)
    assert cv2.imread(str(stored)).shape == (H * len(TASKS), 3 * W, 3)


def test_draw_false_draws_nothing_and_missing_img_path_is_named(runner, tmp_path):
    hook = HOOKS.build(dict(type='MultiTaskVisualizationHook', draw=False, test_out_dir='vis'))
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, {}, make_outputs(tmp_path, ['d']))
    assert not osp.exists(osp.join(runner.work_dir, runner.timestamp, 'vis'))
    hook = HOOKS.build(dict(type='MultiTaskVisualizationHook', draw=True, interval=1))
    with pytest.raises(KeyError, match='img_path'):
        hook.after_val_iter(runner, 0, {}, [MultiTaskDataSample(metainfo=dict(tasks=TASKS))])
    with pytest.raises(ValueError, match='interval'):
        HOOKS.build(dict(type='MultiTaskVisualizationHook', interval=0))
