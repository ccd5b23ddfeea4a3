import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from prettytable import PrettyTable

from mmmtl.evaluation.functional import DEFAULT_THRESHOLDS, HIGHER_IS_BETTER, delta_m
from mmmtl.registry import METRICS
from mmmtl.tasks import check_tasks, get_task_spec
from mmmtl.visualization.prediction_files import save_task_prediction

from .task_evaluators import TASK_EVALUATORS


def _to_numpy(data: Union[torch.Tensor, np.ndarray]) -> np.ndarray:
    if isinstance(data, torch.Tensor):
        return data.detach().cpu().numpy()
    return np.asarray(data)


@METRICS.register_module()
class MultiTaskMetric(BaseMetric):
    """Every dense-prediction metric of the multi-task literature, and Δm.

    Per task (keys of the logged dict; percentages unless stated):

    - ``semseg``, ``human_parts``: ``mIoU`` and ``pixel_acc`` from a dataset
      confusion matrix (absent classes count as IoU 0, ``miou_absent``).
    - ``depth``: ``rmse`` (m) pooled over valid pixels, ``abs_rel``,
      ``log_rmse``, ``delta1``.
    - ``normal``: ``mean``, ``median``, ``rmse`` (degrees) and ``11.25``,
      ``22.5``, ``30`` (% of pixels within).
    - ``saliency``: ``maxF`` (beta^2 = 0.3) and ``mIoU``.
    - ``edge``: ``odsF``, ``oisF``, ``AP`` (SEISM protocol, see
      :mod:`mmmtl.evaluation.functional.boundary`).
    - ``multitask/delta_m`` when ``st_reference`` is given.

    Only sufficient statistics are kept per image (confusions, sums, a normal
    histogram, boundary counts per threshold), never whole maps; results
    collected across ranks give the same numbers as one process.

    Args:
        tasks: Tasks to evaluate.
        num_classes: ``{task: classes}`` of label tasks; defaults to the
            dataset meta's ``num_classes`` (then 40 / 21 semseg, 7 parts).
        ignore_index: Ignored label.
        edge_max_dist: Boundary tolerance as a fraction of the diagonal
            (0.011 NYUD-v2, 0.0075 PASCAL-Context).
        edge_thresholds: Number of thresholds or their list.
        edge_nms: Apply structured-edge NMS to boundary predictions.
        st_reference: ``{'semseg/mIoU': 42.92, 'depth/rmse': 0.6104, ...}``,
            single-task numbers for Δm (presets: configs/_base_/st_references.py).
        miou_absent: ``'zero'`` (multi-task convention) or ``'nan'`` (mmseg).
        format_only: Only export predictions to ``output_dir``.
        output_dir: Where predictions are exported (one folder per task:
            edge / saliency as 8-bit PNG of the probability, semseg /
            human_parts as label PNG, normals as 8-bit PNG of (n + 1) / 2,
            depth as float32 .npy in metres).
        collect_device, prefix: See :class:`mmengine.evaluator.BaseMetric`.
    """
    default_prefix: Optional[str] = None

    def __init__(self,
                 tasks: Sequence[str],
                 num_classes: Optional[Dict[str, int]] = None,
                 ignore_index: int = 255,
                 edge_max_dist: float = 0.011,
                 edge_thresholds: Union[int, Sequence[float]] = DEFAULT_THRESHOLDS,
                 edge_nms: bool = True,
                 st_reference: Optional[Dict[str, float]] = None,
                 miou_absent: str = 'zero',
                 format_only: bool = False,
                 output_dir: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.tasks = check_tasks(tasks, owner='MultiTaskMetric')
        self._num_classes = dict(num_classes or {})
        self.ignore_index = ignore_index
        self.edge_max_dist = edge_max_dist
        self.edge_thresholds = edge_thresholds
        self.edge_nms = edge_nms
        self.st_reference = dict(st_reference or {})
        for key in self.st_reference:
            if key not in HIGHER_IS_BETTER:
                raise KeyError(f'MultiTaskMetric: st_reference key {key!r} is not one of '
                               f'{sorted(HIGHER_IS_BETTER)}.')
        self.miou_absent = miou_absent
        self.format_only = format_only
        self.output_dir = output_dir
        if format_only and not output_dir:
            raise ValueError('MultiTaskMetric: format_only needs an output_dir.')

    def num_classes(self, task: str) -> int:
        if task in self._num_classes:
            return self._num_classes[task]
        meta = (self.dataset_meta or {}).get('num_classes', {})
        if isinstance(meta, dict) and task in meta:
            return int(meta[task])
        if task == 'semseg' and self.dataset_meta and self.dataset_meta.get('classes'):
            return len(self.dataset_meta['classes'])
        raise KeyError(f'MultiTaskMetric: number of classes of task {task!r} unknown; '
                       'set num_classes=dict(...) in the evaluator config.')

    # ---------------------------------------------------------------- process
    @staticmethod
    def _sample_name(sample: dict) -> str:
        if sample.get('sample_id') is not None:
            return str(sample['sample_id'])
        return osp.splitext(osp.basename(sample.get('img_path', 'unknown')))[0]

    def _export(self, task: str, name: str, pred: np.ndarray) -> None:
        save_task_prediction(task, pred, osp.join(self.output_dir, task), name,
                             depth_png=False)

    def _task_statistics(self, task: str, pred: np.ndarray, gt: np.ndarray) -> dict:
        return TASK_EVALUATORS[get_task_spec(task).evaluator].statistics(task, pred, gt, self)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Accumulate per-image statistics of every task."""
        for sample in data_samples:
            name = self._sample_name(sample)
            where = sample.get('img_path', name)
            result = dict(name=name)
            for task in self.tasks:
                spec = get_task_spec(task)
                if spec.pred_key not in sample:
                    raise KeyError(f'MultiTaskMetric: task {task!r}: sample {where} has no '
                                   f'prediction {spec.pred_key!r}.')
                pred = _to_numpy(sample[spec.pred_key]['data'])
                if not np.isfinite(pred).all():
                    raise ValueError(f'MultiTaskMetric: task {task!r}: the prediction of '
                                     f'sample {where} contains NaN or inf.')
                if self.output_dir:
                    self._export(task, name, pred)
                if self.format_only:
                    continue
                if spec.gt_key not in sample:
                    raise KeyError(f'MultiTaskMetric: task {task!r}: sample {where} has no '
                                   f'ground truth {spec.gt_key!r}.')
                gt = _to_numpy(sample[spec.gt_key]['data'])
                if pred.shape[-2:] != gt.shape[-2:]:
                    raise ValueError(f'MultiTaskMetric: task {task!r}: sample {where}: '
                                     f'prediction of size {pred.shape[-2:]} but ground '
                                     f'truth of size {gt.shape[-2:]}.')
                try:
                    result[task] = self._task_statistics(task, pred, gt)
                except ValueError as error:
                    raise ValueError(f'MultiTaskMetric: task {task!r}: sample {where}: '
                                     f'{error}') from None
            self.results.append(result)

    # ---------------------------------------------------------------- compute
    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Reduce the per-image statistics to the flat metric dict."""
        logger = MMLogger.get_current_instance()
        if self.format_only:
            print_log(f'Predictions exported to {self.output_dir}', logger)
            return OrderedDict()
        if not results:
            raise ValueError('MultiTaskMetric: the evaluation dataset is empty: no '
                             'sample was processed.')
        metrics: Dict[str, float] = OrderedDict()
        for task in self.tasks:
            stats = [result[task] for result in results]
            evaluator = TASK_EVALUATORS[get_task_spec(task).evaluator]
            for key, value in evaluator.reduce(task, stats, self).items():
                metrics[f'{task}/{key}'] = value
        if self.st_reference:
            metrics['multitask/delta_m'] = delta_m(metrics, self.st_reference)
        self._print_table(metrics, len(results), logger)
        return metrics

    def _print_table(self, metrics: Dict[str, float], num_images: int,
                     logger: MMLogger) -> None:
        table = PrettyTable(field_names=['metric', 'value', 'single-task ref'])
        for key, value in metrics.items():
            reference = self.st_reference.get(key)
            table.add_row([key, f'{value:.4f}',
                           '' if reference is None else f'{reference:.4f}'])
        print_log(f'Multi-task results on {num_images} images:\n' + table.get_string(),
                  logger=logger)
