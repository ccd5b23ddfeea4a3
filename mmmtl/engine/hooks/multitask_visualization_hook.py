"""Hook that paints multi-task predictions during validation and testing."""
import os.path as osp
import warnings
from typing import Optional, Sequence

import mmcv
from mmengine.fileio import get
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmengine.utils import mkdir_or_exist

from mmmtl.registry import HOOKS
from mmmtl.structures import MultiTaskDataSample


@HOOKS.register_module()
class MultiTaskVisualizationHook(Hook):
    """Paint image | gt | prediction of every task in the val / test loops.

    Every ``interval``-th batch of the val or test loop, each sample of the
    batch is read from ``img_path`` (predictions are at ``ori_shape``, the
    size of the image on disk) and drawn by the runner's visualizer (a
    :class:`~mmmtl.visualization.MultiTaskVisualizer`), which stores it in
    its vis backends (local files, TensorBoard) under ``'<mode>_<file name>'``
    at step ``runner.iter``. In the test loop with ``test_out_dir`` (set by
    ``tools/test.py --show-dir``), the pictures are instead written to
    ``<work_dir>/<timestamp>/<test_out_dir>/<image stem>.png`` (an absolute
    ``test_out_dir`` is used as is).

    Args:
        draw: Whether to draw at all.
        interval: Draw every ``interval`` batches.
        show: Show each picture in a window; the backends are then skipped,
            like mmseg's ``SegVisualizationHook``.
        wait_time: Seconds a shown window stays.
        test_out_dir: Folder for test pictures, relative to the run's log dir.
        backend_args: File backend arguments to read the images.
    """
    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 test_out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        if interval < 1:
            raise ValueError(f'MultiTaskVisualizationHook: interval must be >= 1, got {interval}')
        self.draw = draw
        self.interval = interval
        self.show = show
        self.wait_time = wait_time
        self.test_out_dir = test_out_dir
        self.backend_args = backend_args.copy() if backend_args else None
        self._test_out_path: Optional[str] = None

    def before_run(self, runner: Runner) -> None:
        if self.show:
            runner.visualizer._vis_backends = {}
            warnings.warn('MultiTaskVisualizationHook: show=True, pictures are shown and '
                          'not stored in the vis backends.')

    def before_test(self, runner: Runner) -> None:
        if self.draw and self.test_out_dir is not None:
            self._test_out_path = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            mkdir_or_exist(self._test_out_path)

    def _draw(self, runner: Runner, outputs: Sequence[MultiTaskDataSample], mode: str,
              out_dir: Optional[str], step: int) -> None:
        for output in outputs:
            img_path = output.metainfo.get('img_path')
            if img_path is None:
                raise KeyError('MultiTaskVisualizationHook: a data sample has no img_path '
                               'in its metainfo; cannot read the image to draw.')
            image = mmcv.imfrombytes(get(img_path, backend_args=self.backend_args),
                                     channel_order='rgb')
            file_name = osp.basename(img_path)
            out_file = None
            if out_dir is not None:
                out_file = osp.join(out_dir, osp.splitext(file_name)[0] + '.png')
            runner.visualizer.add_datasample(
                f'{mode}_{file_name}', image, data_sample=output, show=self.show,
                wait_time=self.wait_time, out_file=out_file, step=step)

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[MultiTaskDataSample]) -> None:
        if self.draw and self.every_n_inner_iters(batch_idx, self.interval):
            self._draw(runner, outputs, 'val', None, step=runner.iter)

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[MultiTaskDataSample]) -> None:
        if self.draw and self.every_n_inner_iters(batch_idx, self.interval):
            # Not runner.iter: it builds the train loop, and with it the train
            # dataset, which a test-only run need not have.
            self._draw(runner, outputs, 'test', self._test_out_path, step=batch_idx)
