"""Geometric transforms that keep every per-pixel map aligned with the image.

Each transform changes ``results['img']`` and every map listed in
``results['gt_fields']`` and ``results['aligned_fields']`` consistently, by
the map's own :class:`~mmmtl.tasks.AlignedField` rule (interpolation, pad
value, how its values change): ground-truth maps resize with nearest
neighbour, depth is divided by the resize factor, and normals are vectors,
so flipping negates their horizontal (x) or vertical (y) component.
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms import BaseTransform

from mmmtl.registry import TRANSFORMS
from mmmtl.tasks import IGNORE_INDEX, iter_aligned_fields
from mmmtl.tasks.aligned_field import FLIP_AXES, INTERPOLATIONS, pad_array, resize_array


def resize_results(results: dict, size_hw: Tuple[int, int], interpolation: str = 'bilinear',
                   rescale_depth: bool = True) -> dict:
    """Resize the image and every aligned map of ``results`` to ``size_hw``.

    The image uses ``interpolation``, every map its own rule. With
    ``rescale_depth`` the values of maps that scale with the image (depth)
    are rescaled by the scale factor (the geometric mean of the x and y
    factors): enlarging an image by ``s`` is what a camera ``s`` times
    closer would see.
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f'interpolation must be one of {sorted(INTERPOLATIONS)}, '
                         f'got {interpolation!r}')
    img = results['img']
    height, width = img.shape[:2]
    new_h, new_w = int(size_hw[0]), int(size_hw[1])
    if new_h < 1 or new_w < 1:
        raise ValueError(f'invalid resize target {size_hw} for image of size {(height, width)}')
    w_scale, h_scale = new_w / width, new_h / height
    image_scale = float(np.sqrt(w_scale * h_scale)) if rescale_depth else None
    results['img'] = resize_array(img, (new_h, new_w), interpolation)
    for key, rule in iter_aligned_fields(results):
        results[key] = rule.resize(results[key], (new_h, new_w), image_scale)
    results['img_shape'] = (new_h, new_w)
    results['scale'] = (new_w, new_h)
    results['scale_factor'] = (w_scale, h_scale)
    return results


def _keep_ratio_size(height: int, width: int, scale_wh: Sequence[float]) -> Tuple[int, int]:
    """Largest (H, W) with the image's aspect ratio fitting ``scale_wh``.

    Same rule as mmcv ``imrescale``: the long edge fits ``max(scale)`` and the
    short edge fits ``min(scale)``.
    """
    long_edge, short_edge = max(scale_wh), min(scale_wh)
    factor = min(long_edge / max(height, width), short_edge / min(height, width))
    return int(height * factor + 0.5), int(width * factor + 0.5)


@TRANSFORMS.register_module()
class MultiTaskResize(BaseTransform):
    """Resize the image and every aligned map to a fixed scale.

    Required keys: ``img``; the maps listed in ``gt_fields`` / ``aligned_fields``.
    Modified keys: ``img``, the listed maps, ``img_shape``.
    Added keys: ``scale``, ``scale_factor``, ``keep_ratio``.

    Args:
        scale: Target ``(w, h)``; with ``keep_ratio`` the image is rescaled to
            fit it (mmcv ``Resize`` convention).
        scale_factor: Alternatively a factor applied to the current size.
        keep_ratio: Keep the aspect ratio when ``scale`` is given.
        interpolation: Image interpolation (each map uses its own rule; the
            ground truth nearest).
        rescale_depth: Divide depth by the scale factor.
    """

    def __init__(self, scale: Optional[Sequence[int]] = None,
                 scale_factor: Optional[float] = None, keep_ratio: bool = True,
                 interpolation: str = 'bilinear', rescale_depth: bool = True) -> None:
        if (scale is None) == (scale_factor is None):
            raise ValueError('give exactly one of scale and scale_factor')
        self.scale = None if scale is None else tuple(scale)
        self.scale_factor = scale_factor
        self.keep_ratio = keep_ratio
        self.interpolation = interpolation
        self.rescale_depth = rescale_depth

    def _target_size(self, height: int, width: int) -> Tuple[int, int]:
        if self.scale_factor is not None:
            return (int(height * self.scale_factor + 0.5), int(width * self.scale_factor + 0.5))
        if self.keep_ratio:
            return _keep_ratio_size(height, width, self.scale)
        return self.scale[1], self.scale[0]

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        resize_results(results, self._target_size(height, width), self.interpolation,
                       self.rescale_depth)
        results['keep_ratio'] = self.keep_ratio
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, scale_factor={self.scale_factor}, '
                f'keep_ratio={self.keep_ratio}, rescale_depth={self.rescale_depth})')


@TRANSFORMS.register_module()
class MultiTaskRandomResize(BaseTransform):
    """Resize by a random ratio; depth is divided by the ratio.

    Like mmseg's ``RandomResize`` with ``ratio_range``: the target is
    ``scale * ratio`` (``scale`` is ``(w, h)``; ``None`` means the image's
    own size), fitted with the image's aspect ratio. The ratio is drawn
    uniformly from ``ratio_range`` or from the list ``ratios`` (the ATRC /
    InvPT protocol uses ``ratios=(1.0, 1.2, 1.5)``).

    Required keys: ``img``; the maps listed in ``gt_fields`` / ``aligned_fields``.
    Modified keys: ``img``, the listed maps, ``img_shape``.
    Added keys: ``scale``, ``scale_factor``, ``keep_ratio``.
    """

    def __init__(self, scale: Optional[Sequence[int]] = None,
                 ratio_range: Optional[Tuple[float, float]] = None,
                 ratios: Optional[Sequence[float]] = None,
                 interpolation: str = 'bilinear', rescale_depth: bool = True) -> None:
        if (ratio_range is None) == (ratios is None):
            raise ValueError('give exactly one of ratio_range and ratios')
        if ratio_range is not None:
            if len(ratio_range) != 2 or not 0 < ratio_range[0] <= ratio_range[1]:
                raise ValueError(f'invalid ratio_range {ratio_range}')
        if ratios is not None and (len(ratios) == 0 or min(ratios) <= 0):
            raise ValueError(f'invalid ratios {ratios}')
        self.scale = None if scale is None else tuple(scale)
        self.ratio_range = None if ratio_range is None else tuple(ratio_range)
        self.ratios = None if ratios is None else tuple(ratios)
        self.interpolation = interpolation
        self.rescale_depth = rescale_depth

    def _random_ratio(self) -> float:
        if self.ratios is not None:
            return float(self.ratios[np.random.randint(len(self.ratios))])
        return float(np.random.uniform(*self.ratio_range))

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        ratio = self._random_ratio()
        if self.scale is None:
            size = (int(height * ratio + 0.5), int(width * ratio + 0.5))
        else:
            size = _keep_ratio_size(height, width,
                                    (self.scale[0] * ratio, self.scale[1] * ratio))
        resize_results(results, size, self.interpolation, self.rescale_depth)
        results['keep_ratio'] = True
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, ratio_range={self.ratio_range}, '
                f'ratios={self.ratios}, rescale_depth={self.rescale_depth})')


@TRANSFORMS.register_module()
class MultiTaskRandomCrop(BaseTransform):
    """Randomly crop the image and every aligned map to ``crop_size``.

    As mmseg's ``RandomCrop``: an image smaller than the crop is kept whole
    along that side (pad it afterwards with :class:`MultiTaskPad`), and with
    ``cat_max_ratio < 1`` up to 10 crops are drawn until no single class
    covers more than that ratio of the crop's labelled ``gt_sem_seg`` pixels.

    Required keys: ``img``; the maps listed in ``gt_fields`` / ``aligned_fields``.
    Modified keys: ``img``, the listed maps, ``img_shape``.

    Args:
        crop_size: ``(h, w)``.
        cat_max_ratio: Largest share of one semantic class in the crop.
        ignore_index: Label ignored when computing the share.
    """

    def __init__(self, crop_size: Sequence[int], cat_max_ratio: float = 1.,
                 ignore_index: int = IGNORE_INDEX) -> None:
        if len(crop_size) != 2 or min(crop_size) <= 0:
            raise ValueError(f'crop_size must be (h, w) > 0, got {crop_size}')
        self.crop_size = tuple(int(s) for s in crop_size)
        self.cat_max_ratio = cat_max_ratio
        self.ignore_index = ignore_index

    def _random_bbox(self, height: int, width: int) -> Tuple[int, int, int, int]:
        margin_h = max(height - self.crop_size[0], 0)
        margin_w = max(width - self.crop_size[1], 0)
        y1 = np.random.randint(0, margin_h + 1)
        x1 = np.random.randint(0, margin_w + 1)
        return y1, min(y1 + self.crop_size[0], height), x1, min(x1 + self.crop_size[1], width)

    def _balanced(self, sem_seg: np.ndarray, bbox: Tuple[int, int, int, int]) -> bool:
        y1, y2, x1, x2 = bbox
        labels, counts = np.unique(sem_seg[y1:y2, x1:x2], return_counts=True)
        counts = counts[labels != self.ignore_index]
        return len(counts) > 1 and counts.max() / counts.sum() < self.cat_max_ratio

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        bbox = self._random_bbox(height, width)
        if self.cat_max_ratio < 1. and 'gt_sem_seg' in results.get('gt_fields', []):
            for _ in range(10):
                if self._balanced(results['gt_sem_seg'], bbox):
                    break
                bbox = self._random_bbox(height, width)
        y1, y2, x1, x2 = bbox
        results['img'] = results['img'][y1:y2, x1:x2, ...]
        for key, rule in iter_aligned_fields(results):
            results[key] = rule.crop(results[key], bbox)
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(crop_size={self.crop_size}, ' \
               f'cat_max_ratio={self.cat_max_ratio})'


def flip_results(results: dict, direction: str) -> dict:
    """Flip the image and every aligned map (normals negate the matching component)."""
    if direction not in FLIP_AXES:
        raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
    results['img'] = np.flip(results['img'], axis=FLIP_AXES[direction]).copy()
    for key, rule in iter_aligned_fields(results):
        results[key] = rule.flip(results[key], direction)
    return results


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(BaseTransform):
    """Flip the image and every aligned map with probability ``prob``.

    A horizontal flip negates the x component of the normals (camera x points
    right), a vertical flip the y component.

    Required keys: ``img``; the maps listed in ``gt_fields`` / ``aligned_fields``.
    Modified keys: ``img``, the listed maps.
    Added keys: ``flip``, ``flip_direction``.

    Args:
        prob: Probability of flipping.
        direction: ``'horizontal'`` or ``'vertical'``.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal') -> None:
        if not 0. <= prob <= 1.:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if direction not in FLIP_AXES:
            raise ValueError(f"direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.prob)
        if flip:
            flip_results(results, self.direction)
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob}, direction={self.direction!r})'


@TRANSFORMS.register_module()
class MultiTaskPad(BaseTransform):
    """Pad the image and every aligned map at the bottom and right.

    Pad values: the image ``pad_val`` (0), every map its rule's
    ``pad_value``: label and binary maps 255 (ignore), depth 0 and normals
    the zero vector (both invalid).

    Required keys: ``img``; the maps listed in ``gt_fields`` / ``aligned_fields``.
    Modified keys: ``img``, the listed maps.
    Added keys: ``pad_shape``, ``pad_fixed_size``, ``pad_size_divisor``.

    Args:
        size: Fixed padded size ``(w, h)`` (mmcv ``Pad`` convention); a
            larger image is left as is along that side.
        size_divisor: Alternatively pad each side to a multiple of it.
        pad_val: Image padding value.
    """

    def __init__(self, size: Optional[Sequence[int]] = None,
                 size_divisor: Optional[int] = None, pad_val: float = 0.) -> None:
        if (size is None) == (size_divisor is None):
            raise ValueError('give exactly one of size and size_divisor')
        self.size = None if size is None else tuple(int(s) for s in size)
        self.size_divisor = size_divisor
        self.pad_val = pad_val

    def _padded_hw(self, height: int, width: int) -> Tuple[int, int]:
        if self.size is not None:
            return max(height, self.size[1]), max(width, self.size[0])
        d = self.size_divisor
        return int(np.ceil(height / d)) * d, int(np.ceil(width / d)) * d

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        size_hw = self._padded_hw(height, width)
        results['img'] = pad_array(results['img'], size_hw, self.pad_val)
        for key, rule in iter_aligned_fields(results):
            results[key] = rule.pad(results[key], size_hw)
        results['pad_shape'] = results['img'].shape[:2]
        results['pad_fixed_size'] = self.size
        results['pad_size_divisor'] = self.size_divisor
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, size_divisor={self.size_divisor}, '
                f'pad_val={self.pad_val})')
