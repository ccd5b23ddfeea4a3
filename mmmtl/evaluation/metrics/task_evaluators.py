"""Per-task evaluation: statistics of one image and their reduction.

:class:`MultiTaskMetric` looks a task's evaluator up by ``TaskSpec.evaluator``;
a new task with a new kind of metric is one class here plus its task entry.
Only sufficient statistics are kept per image, so results collected across
ranks reduce to the same numbers as in one process.
"""
from abc import ABCMeta, abstractmethod
from typing import Dict, List

import numpy as np

from mmmtl.evaluation.functional import (
    boundary_counts,
    boundary_metrics,
    depth_metrics,
    depth_statistics,
    miou_from_confusion,
    normal_metrics,
    normal_statistics,
    pixel_accuracy,
    saliency_metrics,
    saliency_statistics,
    semseg_confusion,
)


class TaskEvaluator(metaclass=ABCMeta):
    """Statistics of one image (``statistics``) and their reduction (``reduce``).

    ``pred`` and ``gt`` are (C, H, W) numpy arrays; ``metric`` is the calling
    :class:`MultiTaskMetric` (its options: ``ignore_index``, edge settings,
    ``num_classes(task)``, ``miou_absent``).
    """

    @abstractmethod
    def statistics(self, task: str, pred: np.ndarray, gt: np.ndarray, metric) -> dict:
        """Sufficient statistics of one image."""

    @abstractmethod
    def reduce(self, task: str, stats: List[dict], metric) -> Dict[str, float]:
        """``{metric name: value}`` from the statistics of every image."""


class SegmentationEvaluator(TaskEvaluator):
    """mIoU and pixel accuracy (%) from the dataset's confusion matrix."""

    def statistics(self, task, pred, gt, metric) -> dict:
        return dict(conf=semseg_confusion(pred[0], gt[0], metric.num_classes(task),
                                          metric.ignore_index))

    def reduce(self, task, stats, metric) -> Dict[str, float]:
        conf = np.sum([s['conf'] for s in stats], axis=0)
        return {'mIoU': 100 * miou_from_confusion(conf, metric.miou_absent),
                'pixel_acc': 100 * pixel_accuracy(conf)}


class DepthEvaluator(TaskEvaluator):
    """rmse (m), abs_rel, log_rmse pooled over valid pixels; delta1 in %."""

    def statistics(self, task, pred, gt, metric) -> dict:
        return depth_statistics(pred[0], gt[0])

    def reduce(self, task, stats, metric) -> Dict[str, float]:
        total = {key: sum(s[key] for s in stats) for key in stats[0]}
        return {key: value * (100 if key == 'delta1' else 1)
                for key, value in depth_metrics(total).items()}


class NormalEvaluator(TaskEvaluator):
    """Angle mean / median / rmse (degrees) and % within 11.25, 22.5, 30."""

    def statistics(self, task, pred, gt, metric) -> dict:
        return normal_statistics(pred, gt)

    def reduce(self, task, stats, metric) -> Dict[str, float]:
        total = {key: np.sum([s[key] for s in stats], axis=0) for key in stats[0]}
        return dict(normal_metrics(total))


class SaliencyEvaluator(TaskEvaluator):
    """maxF (beta^2 = 0.3) and mIoU (%) over thresholds."""

    def statistics(self, task, pred, gt, metric) -> dict:
        return saliency_statistics(pred[0], gt[0], ignore_index=metric.ignore_index)

    def reduce(self, task, stats, metric) -> Dict[str, float]:
        total = {key: np.sum([s[key] for s in stats], axis=0) for key in stats[0]}
        return {key: 100 * value for key, value in saliency_metrics(total).items()}


class BoundaryEvaluator(TaskEvaluator):
    """odsF, oisF, AP (%) by the SEISM protocol; 255 in the gt is ignored."""

    def statistics(self, task, pred, gt, metric) -> dict:
        gt_map = gt[0]
        return dict(counts=boundary_counts(
            pred[0], gt_map == 1, metric.edge_max_dist, metric.edge_thresholds,
            nms=metric.edge_nms, ignore_mask=gt_map == metric.ignore_index))

    def reduce(self, task, stats, metric) -> Dict[str, float]:
        counts = np.stack([s['counts'] for s in stats])
        return {key: 100 * value for key, value in boundary_metrics(counts).items()}


TASK_EVALUATORS: Dict[str, TaskEvaluator] = dict(
    segmentation=SegmentationEvaluator(),
    depth=DepthEvaluator(),
    normal=NormalEvaluator(),
    saliency=SaliencyEvaluator(),
    boundary=BoundaryEvaluator(),
)

