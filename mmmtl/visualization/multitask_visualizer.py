from typing import Dict, List, Optional

import cv2
import numpy as np
from mmengine.dist import master_only
from mmseg.visualization import SegLocalVisualizer

from mmmtl.registry import VISUALIZERS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.utils.tasks import ALL_TASKS, get_task_spec

from .colorize import (
    colorize_depth,
    colorize_labels,
    colorize_normals,
    colorize_probability,
    depth_range,
)


@VISUALIZERS.register_module()
class MultiTaskVisualizer(SegLocalVisualizer):
    """Draw image | ground truth | prediction for every task of a sample.

    One row per task: label palettes for semseg and human parts (ignore is
    black), turbo for depth with the same range for gt and prediction (taken
    from the valid gt), RGB normals, heat maps for edge and saliency.
    The picture goes to the vis backends (local files, TensorBoard, ...) or
    to ``out_file``.

    Args:
        name: Instance name.
        vis_backends: Visualisation backends.
        save_dir: Where backends write.
        tile_height: Height of each tile in pixels (width keeps the aspect).
        **kwargs: Passed to :class:`SegLocalVisualizer`.
    """

    def __init__(self, name: str = 'visualizer', vis_backends: Optional[List[Dict]] = None,
                 save_dir: Optional[str] = None, tile_height: int = 240, **kwargs) -> None:
        super().__init__(name=name, vis_backends=vis_backends, save_dir=save_dir, **kwargs)
        self.tile_height = tile_height

    def _palette(self, task: str) -> Optional[np.ndarray]:
        meta = self.dataset_meta or {}
        key = 'palette' if task == 'semseg' else 'part_palette'
        palette = meta.get(key)
        return None if palette is None else np.asarray(palette, dtype=np.uint8)

    def _tasks(self, data_sample: MultiTaskDataSample) -> List[str]:
        tasks = data_sample.metainfo.get('tasks')
        if tasks:
            return list(tasks)
        return [task for task in ALL_TASKS
                if get_task_spec(task).gt_key in data_sample
                or get_task_spec(task).pred_key in data_sample]

    def _draw_task(self, task: str, data_sample: MultiTaskDataSample, key: str,
                   gt_range: Optional[tuple]) -> Optional[np.ndarray]:
        if key not in data_sample:
            return None
        data = getattr(data_sample, key).data.detach().cpu().numpy()
        kind = get_task_spec(task).kind
        if kind == 'label':
            return colorize_labels(data[0], self._palette(task))
        if kind == 'depth':
            return colorize_depth(data[0], gt_range or depth_range(data[0]))
        if kind == 'normal':
            return colorize_normals(data)
        values = data[0].astype(np.float32)
        ignore = values == 255 if key.startswith('gt_') else None
        return colorize_probability(np.where(values == 255, 0, values), ignore)

    def _tile(self, image: np.ndarray, label: str) -> np.ndarray:
        height, width = image.shape[:2]
        new_width = max(1, int(round(width * self.tile_height / height)))
        tile = cv2.resize(image, (new_width, self.tile_height), interpolation=cv2.INTER_NEAREST)
        tile = np.ascontiguousarray(tile)
        cv2.putText(tile, label, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                    cv2.LINE_AA)
        return tile

    def draw_multitask(self, image: np.ndarray, data_sample: MultiTaskDataSample,
                       draw_gt: bool = True, draw_pred: bool = True) -> np.ndarray:
        """Return the (rows * tile_height, columns * width, 3) RGB grid."""
        rows = []
        blank = np.zeros_like(image)
        for task in self._tasks(data_sample):
            spec = get_task_spec(task)
            gt_range = None
            if task == 'depth' and spec.gt_key in data_sample:
                gt_range = depth_range(getattr(data_sample, spec.gt_key).data.cpu().numpy()[0])
            row = [self._tile(image, task)]
            if draw_gt:
                gt = self._draw_task(task, data_sample, spec.gt_key, gt_range)
                row.append(self._tile(gt if gt is not None else blank, f'{task} gt'))
            if draw_pred:
                pred = self._draw_task(task, data_sample, spec.pred_key, gt_range)
                row.append(self._tile(pred if pred is not None else blank, f'{task} pred'))
            rows.append(np.concatenate(row, axis=1))
        if not rows:
            raise ValueError('MultiTaskVisualizer: the data sample has no task to draw.')
        return np.concatenate(rows, axis=0)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[MultiTaskDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       **kwargs) -> None:
        """Draw ``data_sample`` over the (H, W, 3) RGB ``image`` and store it."""
        if data_sample is None:
            drawn = image
        else:
            drawn = self.draw_multitask(image, data_sample, draw_gt, draw_pred)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            cv2.imwrite(out_file, np.ascontiguousarray(drawn[..., ::-1]))
        else:
            self.add_image(name, drawn, step)
