import os
import os.path as osp
from typing import Optional, Sequence

import mmcv
from mmengine.fileio import get
from mmengine.runner import Runner
from mmseg.engine.hooks import SegVisualizationHook

from mmmtl.registry import HOOKS
from mmmtl.structures import MultiTaskDataSample


@HOOKS.register_module()
class MultiTaskVisualizationHook(SegVisualizationHook):
    """Paint image | gt | prediction of every task during validation / test.

    Every ``interval`` images of the val or test loop are drawn by the
    :class:`MultiTaskVisualizer` and sent to its backends (local files,
    TensorBoard). With ``test_out_dir`` (set by ``tools/test.py --show-dir``),
    test pictures are written as ``<work_dir>/<timestamp>/<test_out_dir>/<name>.png``.

    Args:
        draw: Whether to draw at all.
        interval: Draw every ``interval`` images.
        show: Show in a window instead of storing.
        wait_time: Seconds a shown window stays.
        test_out_dir: Folder (inside the run's log dir) for test pictures.
        backend_args: File backend arguments to read images.
    """

    def __init__(self, draw: bool = False, interval: int = 50, show: bool = False,
                 wait_time: float = 0., test_out_dir: Optional[str] = None,
                 backend_args: Optional[dict] = None) -> None:
        super().__init__(draw=draw, interval=interval, show=show, wait_time=wait_time,
                         backend_args=backend_args)
        self.test_out_dir = test_out_dir

    def _draw(self, runner: Runner, outputs: Sequence[MultiTaskDataSample], mode: str,
              out_dir: Optional[str]) -> None:
        for output in outputs:
            img_path = output.img_path
            image = mmcv.imfrombytes(get(img_path, backend_args=self.backend_args),
                                     channel_order='rgb')
            name = osp.splitext(osp.basename(img_path))[0]
            out_file = osp.join(out_dir, f'{name}.png') if out_dir else None
            self._visualizer.add_datasample(
                f'{mode}_{name}', image, data_sample=output, show=self.show,
                wait_time=self.wait_time, out_file=out_file, step=runner.iter)

    def after_val_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                       outputs: Sequence[MultiTaskDataSample]) -> None:
        if self.draw and self.every_n_inner_iters(batch_idx, self.interval):
            self._draw(runner, outputs, 'val', None)

    def before_test(self, runner: Runner) -> None:
        if self.test_out_dir is not None:
            self.test_out_dir = osp.join(runner.work_dir, runner.timestamp, self.test_out_dir)
            os.makedirs(self.test_out_dir, exist_ok=True)

    def after_test_iter(self, runner: Runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[MultiTaskDataSample]) -> None:
        if self.draw and self.every_n_inner_iters(batch_idx, self.interval):
            self._draw(runner, outputs, 'test', self.test_out_dir)
