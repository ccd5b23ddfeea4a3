from .boundary import (
                       DEFAULT_THRESHOLDS,
                       average_precision,
                       boundary_counts,
                       boundary_metrics,
                       correspond_pixels,
                       edge_nms,
                       ods_f,
                       ois_f,
                       thin,
)
from .delta_m import HIGHER_IS_BETTER, delta_m
from .depth import depth_metrics, depth_statistics
from .normal import normal_angles, normal_metrics, normal_statistics
from .saliency import saliency_metrics, saliency_statistics
from .semseg import iou_from_confusion, miou_from_confusion, pixel_accuracy, semseg_confusion

__all__ = [
    'DEFAULT_THRESHOLDS', 'average_precision', 'boundary_counts', 'boundary_metrics',
    'correspond_pixels', 'edge_nms', 'ods_f', 'ois_f', 'thin', 'HIGHER_IS_BETTER', 'delta_m',
    'depth_metrics', 'depth_statistics', 'normal_angles', 'normal_metrics',
    'normal_statistics', 'saliency_metrics', 'saliency_statistics', 'iou_from_confusion',
    'miou_from_confusion', 'pixel_accuracy', 'semseg_confusion'
]
