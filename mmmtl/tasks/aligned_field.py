"""Per-pixel maps of a sample that follow the image through every transform.

Like mmseg's ``seg_fields``, a sample lists its maps: ``results['gt_fields']``
the ground truth of its tasks, ``results['aligned_fields']`` any other map
(e.g. a cached teacher output and its validity mask). Each key has one
:class:`AlignedField` rule, registered once with :func:`register_aligned_field`;
geometric transforms iterate :func:`iter_aligned_fields` and call the rule,
so they never ask what a map is. The ground truth ``gt_<field>`` of every
task in the task table is registered by the table.
"""
from dataclasses import dataclass
from typing import Dict, Iterator, Optional, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from torch import Tensor

from .task_kind import TaskKind

INTERPOLATIONS = dict(nearest=cv2.INTER_NEAREST, bilinear=cv2.INTER_LINEAR,
                      bicubic=cv2.INTER_CUBIC, area=cv2.INTER_AREA)
FIELD_LISTS = ('gt_fields', 'aligned_fields')
FLIP_AXES = dict(horizontal=1, vertical=0)


def resize_array(array: np.ndarray, size_hw: Tuple[int, int], interpolation: str) -> np.ndarray:
    """cv2-resize an (H, W[, C]) array to ``size_hw`` and keep its channel axis."""
    height, width = size_hw
    resized = cv2.resize(array, (width, height), interpolation=INTERPOLATIONS[interpolation])
    if array.ndim == 3 and resized.ndim == 2:  # cv2 drops a single channel
        resized = resized[..., None]
    return resized


def pad_array(array: np.ndarray, size_hw: Tuple[int, int], value: float) -> np.ndarray:
    """Pad an (H, W[, C]) array at the bottom and right to ``size_hw`` with ``value``."""
    pad = [(0, size_hw[0] - array.shape[0]), (0, size_hw[1] - array.shape[1])]
    pad += [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad, mode='constant', constant_values=value)


@dataclass(frozen=True)
class AlignedField:
    """How one (H, W) or (H, W, C) map moves with the image.

    Args:
        interpolation: Resize rule, a key of :data:`INTERPOLATIONS`.
        pad_value: Value of padded pixels.
        dtype: dtype of the packed (C, H, W) tensor.
        kind: Task kind whose values change with the geometry (depth is
            divided by the resize factor, normals negate a component when
            flipped); None for maps whose values do not (masks).
    """
    interpolation: str = 'nearest'
    pad_value: float = 0.
    dtype: torch.dtype = torch.float32
    kind: Optional[TaskKind] = None

    def __post_init__(self) -> None:
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {sorted(INTERPOLATIONS)}, '
                             f'got {self.interpolation!r}')

    @classmethod
    def ground_truth(cls, kind: TaskKind) -> 'AlignedField':
        """The rule of a task's ground truth: its kind's resize, pad and dtype."""
        return cls(kind.interpolation, kind.pad_value, kind.gt_dtype, kind)

    def resize(self, array: np.ndarray, size_hw: Tuple[int, int],
               image_scale: Optional[float] = None) -> np.ndarray:
        """Resize to ``size_hw``; with ``image_scale`` (the geometric mean of
        the x and y factors) also rescale the values by the kind's rule."""
        if array.dtype == np.bool_:  # cv2 resizes neither bool nor float16
            return resize_array(array.astype(np.uint8), size_hw, self.interpolation) > 0
        if array.dtype == np.float16:
            array = array.astype(np.float32)
        resized = resize_array(array, size_hw, self.interpolation)
        if image_scale is not None and self.kind is not None:
            resized = self.kind.rescale(resized, image_scale)
        return resized

    @staticmethod
    def crop(array: np.ndarray, bbox: Tuple[int, int, int, int]) -> np.ndarray:
        """The ``(y1, y2, x1, x2)`` window."""
        y1, y2, x1, x2 = bbox
        return array[y1:y2, x1:x2, ...]

    def flip(self, array: np.ndarray, direction: str) -> np.ndarray:
        """Mirror along ``direction`` (``'horizontal'`` / ``'vertical'``), then
        apply the kind's rule to the values."""
        flipped = np.flip(array, axis=FLIP_AXES[direction]).copy()
        return flipped if self.kind is None else self.kind.flip(flipped, direction)

    def pad(self, array: np.ndarray, size_hw: Tuple[int, int]) -> np.ndarray:
        """Pad at the bottom and right to ``size_hw`` with :attr:`pad_value`."""
        return pad_array(array, size_hw, self.pad_value)

    def to_tensor(self, array: np.ndarray) -> Tensor:
        """(H, W[, C]) array -> contiguous (C, H, W) tensor of :attr:`dtype`."""
        chw = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy(np.ascontiguousarray(chw)).to(self.dtype)

    def pack(self, data_sample, key: str, array: np.ndarray) -> None:
        """Put the map into ``data_sample.<key>`` as ``PixelData`` of :meth:`to_tensor`."""
        setattr(data_sample, key, PixelData(data=self.to_tensor(array)))

    def pad_tensor(self, tensor: Tensor, padding: Tuple[int, int, int, int]) -> Tensor:
        """Pad a (C, H, W) tensor by ``padding`` = (left, right, top, bottom) pixels."""
        return F.pad(tensor, padding, value=self.pad_value)


ALIGNED_FIELDS: Dict[str, AlignedField] = {}


def register_aligned_field(key: str, rule: AlignedField) -> None:
    """Give the map stored under ``results[key]`` / ``data_sample.<key>`` its rule."""
    if not isinstance(rule, AlignedField):
        raise TypeError(f'the rule of field {key!r} must be an AlignedField, got {rule!r}')
    if ALIGNED_FIELDS.get(key, rule) != rule:
        raise KeyError(f'field {key!r} already has another rule: {ALIGNED_FIELDS[key]}')
    ALIGNED_FIELDS[key] = rule


def get_aligned_field(key: str) -> AlignedField:
    """The rule of field ``key``, or a KeyError naming it and the known fields."""
    try:
        return ALIGNED_FIELDS[key]
    except KeyError:
        raise KeyError(f'unknown aligned field {key!r}; known fields: '
                       f'{sorted(ALIGNED_FIELDS)} (register_aligned_field adds one)') from None


def iter_aligned_fields(results: dict) -> Iterator[Tuple[str, AlignedField]]:
    """Yield ``(key, rule)`` for every map listed in ``results`` (see module doc)."""
    for list_name in FIELD_LISTS:
        for key in results.get(list_name, ()):
            if key not in ALIGNED_FIELDS:
                raise KeyError(f'{key!r} in {list_name} has no rule; known fields: '
                               f'{sorted(ALIGNED_FIELDS)} (register_aligned_field adds one)')
            if key not in results:
                raise KeyError(f'{key!r} is listed in {list_name} but missing in results')
            yield key, ALIGNED_FIELDS[key]
