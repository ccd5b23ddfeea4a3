"""Photometric augmentation of the image only; gt maps are untouched."""
from mmseg.datasets.transforms import PhotoMetricDistortion

from mmmtl.registry import TRANSFORMS


@TRANSFORMS.register_module()
class MultiTaskPhotoMetricDistortion(PhotoMetricDistortion):
    """mmseg's ``PhotoMetricDistortion`` applied to ``results['img']`` only.

    Brightness, contrast, saturation and hue change the image's colours, not
    its geometry, so every task's ground truth stays valid as it is.

    Required keys: ``img`` (uint8 BGR).
    Modified keys: ``img``.
    """
