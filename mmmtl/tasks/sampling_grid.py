"""A sampling grid that follows the image as an affine record, not as a per-pixel map.

A map stored for the original image (a teacher cache's outputs, at any size)
is read at the transformed image's pixels by ``grid_sample``. Where each
pixel reads is an axis-aligned affine map of its coordinates, and resize,
crop, flip and pad keep it affine: :class:`SamplingGrid` holds that map's
four numbers, the box where the image shows the original image, and the
factors of the task kinds' value rules. :class:`SamplingGridField` is its
:class:`~.aligned_field.AlignedField` rule, so every geometric transform moves
it as it moves the image, at no per-pixel cost; the model turns it into the
(H, W, 2) grid on its device (:meth:`SamplingGrid.dense`).
"""
from dataclasses import dataclass, field, replace
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import Tensor

from .aligned_field import FLIP_AXES, AlignedField
from .task_kind import TASK_KINDS, TaskKind


@dataclass(frozen=True, eq=False)
class SamplingGrid:
    """Where each pixel of a transformed image samples a map of the original image.

    Pixel (y, x) of the current ``height`` x ``width`` image samples the
    stored map at the normalised coordinates of ``grid_sample``
    (``align_corners=False``: -1 and 1 are the outer edges of the map)::

        gx = x_scale * (x + 0.5) + x_offset,    gy = y_scale * (y + 0.5) + y_offset

    when its centre lies in ``box`` = (y1, y2, x1, x2), the part of the
    image that shows the original image; elsewhere (padding) the map has no
    value.

    ``factors`` holds a (C,) vector per task kind whose values change with
    the geometry: the factors by which the kind's value rules have scaled
    its values so far (depth: 1 / s after a resize by s; normals: -1 on x
    after a horizontal flip). The rules of every kind are such per-channel
    factors.
    """
    height: int
    width: int
    x_scale: float
    x_offset: float
    y_scale: float
    y_offset: float
    box: Tuple[float, float, float, float]
    factors: Dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def identity(cls, height: int, width: int,
                 kinds: Sequence[TaskKind] = ()) -> 'SamplingGrid':
        """Pixel (y, x) samples the map at the original image's (y, x)."""
        return cls(int(height), int(width), 2 / width, -1., 2 / height, -1.,
                   (0., float(height), 0., float(width)),
                   {kind.name: np.ones(kind.gt_channels, np.float32) for kind in kinds})

    @property
    def shape(self) -> Tuple[int, int]:
        return self.height, self.width

    def resize(self, size_hw: Tuple[int, int],
               image_scale: Optional[float] = None) -> 'SamplingGrid':
        """The grid of the image resized to ``size_hw`` (pixel centres aligned,
        as cv2 and ``align_corners=False``); with ``image_scale`` the kinds'
        rescale rules act on the factors."""
        new_h, new_w = int(size_hw[0]), int(size_hw[1])
        sy, sx = new_h / self.height, new_w / self.width
        y1, y2, x1, x2 = self.box
        factors = self.factors if image_scale is None else {
            name: np.asarray(TASK_KINDS[name].rescale(values, image_scale), np.float32)
            for name, values in self.factors.items()}
        return replace(self, height=new_h, width=new_w, x_scale=self.x_scale / sx,
                       y_scale=self.y_scale / sy, box=(y1 * sy, y2 * sy, x1 * sx, x2 * sx),
                       factors=factors)

    def crop(self, bbox: Tuple[int, int, int, int]) -> 'SamplingGrid':
        """The grid of the ``(y1, y2, x1, x2)`` window (clipped to the image, as slicing)."""
        cy1, cy2, cx1, cx2 = (int(v) for v in bbox)
        cy2, cx2 = min(cy2, self.height), min(cx2, self.width)
        y1, y2, x1, x2 = self.box
        return replace(self, height=cy2 - cy1, width=cx2 - cx1,
                       x_offset=self.x_offset + self.x_scale * cx1,
                       y_offset=self.y_offset + self.y_scale * cy1,
                       box=(max(y1, cy1) - cy1, min(y2, cy2) - cy1,
                            max(x1, cx1) - cx1, min(x2, cx2) - cx1))

    def flip(self, direction: str) -> 'SamplingGrid':
        """The grid of the image mirrored in ``direction``; the kinds' flip rules
        act on the factors."""
        if direction not in FLIP_AXES:
            raise ValueError(f'direction must be one of {sorted(FLIP_AXES)}, got {direction!r}')
        y1, y2, x1, x2 = self.box
        factors = {name: TASK_KINDS[name].flip(values[None, None].copy(), direction)[0, 0]
                   for name, values in self.factors.items()}
        if direction == 'horizontal':  # x -> width - 1 - x
            return replace(self, x_scale=-self.x_scale,
                           x_offset=self.x_offset + self.x_scale * self.width,
                           box=(y1, y2, self.width - x2, self.width - x1), factors=factors)
        return replace(self, y_scale=-self.y_scale,
                       y_offset=self.y_offset + self.y_scale * self.height,
                       box=(self.height - y2, self.height - y1, x1, x2), factors=factors)

    def pad(self, size_hw: Tuple[int, int]) -> 'SamplingGrid':
        """The grid of the image padded at the bottom and right to ``size_hw``."""
        height, width = int(size_hw[0]), int(size_hw[1])
        if height < self.height or width < self.width:
            raise ValueError(f'cannot pad a {self.shape} grid to the smaller {(height, width)}')
        return replace(self, height=height, width=width)

    def dense(self, height: Optional[int] = None, width: Optional[int] = None, top: int = 0,
              left: int = 0, device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
        """The grid as ``grid_sample`` takes it, on ``device``.

        Args:
            height, width: Size of the (batch) image the grid is wanted for;
                by default the grid's own.
            top, left: Where the grid's image starts in it (the data
                preprocessor's padding).

        Returns:
            The (height, width, 2) float32 coordinates (x, y) and the
            (height, width) bool mask of the pixels that have a value.
        """
        height = self.height if height is None else height
        width = self.width if width is None else width
        xs = torch.arange(width, dtype=torch.float32, device=device) + (0.5 - left)
        ys = torch.arange(height, dtype=torch.float32, device=device) + (0.5 - top)
        grid = torch.stack(torch.broadcast_tensors(
            (xs * self.x_scale + self.x_offset)[None, :],
            (ys * self.y_scale + self.y_offset)[:, None]), dim=-1)
        y1, y2, x1, x2 = self.box
        valid = ((ys >= y1) & (ys < y2))[:, None] & ((xs >= x1) & (xs < x2))[None, :]
        return grid, valid


@dataclass(frozen=True)
class SamplingGridField(AlignedField):
    """The :class:`AlignedField` rule of a :class:`SamplingGrid`: each
    geometric step updates the record; packing puts it in the data sample's
    meta (the model builds the dense grid on its device)."""

    def resize(self, grid: SamplingGrid, size_hw: Tuple[int, int],
               image_scale: Optional[float] = None) -> SamplingGrid:
        return grid.resize(size_hw, image_scale)

    @staticmethod
    def crop(grid: SamplingGrid, bbox: Tuple[int, int, int, int]) -> SamplingGrid:
        return grid.crop(bbox)

    def flip(self, grid: SamplingGrid, direction: str) -> SamplingGrid:
        return grid.flip(direction)

    def pad(self, grid: SamplingGrid, size_hw: Tuple[int, int]) -> SamplingGrid:
        return grid.pad(size_hw)

    def pack(self, data_sample, key: str, grid: SamplingGrid) -> None:
        data_sample.set_metainfo({key: grid})

    def to_tensor(self, grid: SamplingGrid) -> Tensor:
        raise TypeError('a SamplingGrid is packed into the meta of a data sample, not as a '
                        'tensor: use SamplingGrid.dense()')
