"""Loading of every task's annotation for a multi-task sample."""
from typing import Optional, Sequence

import numpy as np
from mmcv.transforms import BaseTransform

from mmmtl.registry import TRANSFORMS
from mmmtl.tasks import check_tasks, get_task_spec

from ..annotation_readers import READERS, mask_normals_by_labels, read_context_labelmap


@TRANSFORMS.register_module()
class LoadMultiTaskAnnotations(BaseTransform):
    """Read the ground truth of each task of a sample.

    The dataset describes each task's file in ``results['ann_info'][task]``:
    ``dict(reader=<name in annotation_readers.READERS>, path=..., **kwargs)``.
    Normals may carry ``label_map_path``: pixels whose PASCAL-Context label
    is not in ``results['normal_valid_labels']`` are then ignored (zero).

    Every map is validated by its reader (missing file, NaN / inf depth,
    labels outside the class range raise an error naming the file) and must
    have the image's original size.

    Required keys: ``ann_info``, ``tasks``; optional ``ori_shape``.

    Added keys: ``gt_<field>`` per task (see ``docs/architecture.md``),
    ``gt_fields``.

    Args:
        tasks: Tasks to load; by default ``results['tasks']``.
    """

    def __init__(self, tasks: Optional[Sequence[str]] = None) -> None:
        self.tasks = None if tasks is None else check_tasks(tasks, owner=type(self).__name__)

    def _read(self, task: str, info: dict, results: dict) -> np.ndarray:
        info = dict(info)
        reader_name = info.pop('reader')
        path = info.pop('path')
        label_map_path = info.pop('label_map_path', None)
        if reader_name not in READERS:
            raise KeyError(f'unknown annotation reader {reader_name!r} for task '
                           f'{task!r}; known readers: {sorted(READERS)}')
        if reader_name == 'human_parts_mat':
            info['shape'] = results.get('ori_shape', results.get('img_shape'))
        gt = READERS[reader_name](path, **info)
        if label_map_path is not None:
            if 'normal_valid_labels' not in results:
                raise KeyError(f'task {task!r} of {path} needs '
                               "results['normal_valid_labels']")
            gt = mask_normals_by_labels(gt, read_context_labelmap(label_map_path),
                                        results['normal_valid_labels'], label_map_path)
        return gt

    def transform(self, results: dict) -> dict:
        tasks = self.tasks if self.tasks is not None else results['tasks']
        ann_info = results['ann_info']
        gt_fields = results.setdefault('gt_fields', [])
        shape = results.get('ori_shape')
        for task in tasks:
            spec = get_task_spec(task)
            if task not in ann_info:
                raise KeyError(f'no annotation of task {task!r} for image '
                               f"{results.get('img_path')}; available: {sorted(ann_info)}")
            gt = self._read(task, ann_info[task], results)
            if shape is not None and tuple(gt.shape[:2]) != tuple(shape[:2]):
                raise ValueError(
                    f"{task} annotation {ann_info[task]['path']} has size "
                    f"{gt.shape[:2]}, the image {results.get('img_path')} {tuple(shape[:2])}")
            results[spec.gt_key] = gt
            if spec.gt_key not in gt_fields:
                gt_fields.append(spec.gt_key)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(tasks={self.tasks})'
