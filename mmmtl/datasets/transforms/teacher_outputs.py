"""Loading of a teacher's cached outputs, aligned with the image through a sampling grid."""
from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmmtl.registry import TRANSFORMS
from mmmtl.tasks import TASK_KINDS, AlignedField, TaskKind, get_task_spec, register_aligned_field
from mmmtl.utils.teacher_cache import (
    GRID_KEY,
    OUTPUTS_KEY,
    VALID_KEY,
    TeacherCache,
    stored_size,
    unit_key,
)

# Where each pixel of the (transformed) image samples the stored outputs, in the
# normalised coordinates of ``torch.nn.functional.grid_sample`` (align_corners=False):
# an affine map, which bilinear resizing keeps exact; padded pixels get 0 (masked).
register_aligned_field(GRID_KEY, AlignedField('bilinear', 0., torch.float32))
# 1 where the cache has a value, 0 on padding.
register_aligned_field(VALID_KEY, AlignedField('nearest', 0., torch.uint8))


def has_value_rules(kind: TaskKind) -> bool:
    """Whether the values of the kind's maps change with the geometry (depth, normals)."""
    return type(kind).rescale is not TaskKind.rescale or type(kind).flip is not TaskKind.flip


def register_unit_field(kind: TaskKind) -> str:
    """Register the unit field of ``kind`` and return its key.

    A map of ones (one channel per channel of the kind's ground truth) that
    follows the image under the kind's value rules: after the pipeline it
    holds, per pixel, the factor by which those rules scale the values there
    (1 / s after a resize by s for depth, -1 on the x component after a
    horizontal flip for normals). The rules of every kind are such factors.
    """
    key = unit_key(kind.name)
    register_aligned_field(key, AlignedField('nearest', 0., torch.float32, kind))
    return key


for _kind in list(TASK_KINDS.values()):
    if has_value_rules(_kind):
        register_unit_field(_kind)


def identity_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) grid whose pixel (y, x) samples the stored map at the image's (y, x)."""
    xs = (np.arange(width, dtype=np.float32) + 0.5) * (2 / width) - 1
    ys = (np.arange(height, dtype=np.float32) + 0.5) * (2 / height) - 1
    grid = np.empty((height, width, 2), np.float32)
    grid[..., 0] = xs[None]
    grid[..., 1] = ys[:, None]
    return grid


@TRANSFORMS.register_module()
class LoadTeacherOutputs(BaseTransform):
    """Read an image's cached teacher outputs and align them with the image.

    The outputs of ``tools/distill/cache_teacher.py`` stay at their stored
    size (a fraction of the image's), untouched by the pipeline. What follows
    the image is their sampling grid ``teacher_grid``, an aligned field
    like the ground truth: every geometric transform (resize, crop, flip,
    pad and any other that moves the aligned fields) moves it as the image,
    and the distiller samples the stored outputs at it
    (:func:`~mmmtl.models.distillers.teacher_cache.cached_teacher_outputs`),
    one bilinear interpolation on the device. The value rules of the task
    kinds (depth divided by the resize factor, a horizontal flip negates the
    x component of normals) act on a unit field per kind that follows the
    image too, and the distiller multiplies the sampled values by it. Per
    pixel the pipeline carries the 2 grid coordinates, a mask and the unit
    fields (NYUD-v2: 4 floats) instead of every output channel (45).

    Place it before every geometric transform. A sample that the cache does
    not hold, or whose entry is missing, unreadable or of another size than
    the image's, raises an error naming the image.

    Required keys: ``sample_id``, ``img`` (for its size), optional ``img_path``.
    Added keys: ``teacher_grid`` (H, W, 2) float32 and ``teacher_valid``
    (H, W) uint8 ones, listed in ``aligned_fields``; ``teacher_outputs``
    (C, h, w) tensor of the stored dtype, the outputs' channels concatenated
    in manifest order (``PackMultiTaskInputs`` puts it in the meta); for each
    task kind of the outputs whose values change with the geometry, its unit
    field ``teacher_unit_<kind>`` (see :func:`register_unit_field`).

    Args:
        cache_dir: The cache directory (with ``manifest.json``).
    """

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = cache_dir
        self._cache: Optional[TeacherCache] = None
        tasks = {name.rsplit('.', 1)[-1] for name in self.cache.slices}
        kinds = {get_task_spec(task).task_kind for task in tasks}
        self.unit_fields = {register_unit_field(kind): kind.gt_channels
                            for kind in kinds if has_value_rules(kind)}

    @property
    def cache(self) -> TeacherCache:
        if self._cache is None:
            self._cache = TeacherCache(self.cache_dir)
        return self._cache

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        image = results.get('img_path', results['sample_id'])
        stored = self.cache.read_array(results['sample_id'], image)
        expected = stored_size(height, width, self.cache.manifest['scale'])
        if stored.shape[:2] != expected:
            raise ValueError(
                f'teacher cache {self.cache_dir!r}: the entry of {image} is {stored.shape[:2]}, '
                f'not {expected} (the image is {(height, width)} at scale '
                f"{self.cache.manifest['scale']}): is it of another image? Place "
                'LoadTeacherOutputs before every geometric transform.')
        results[OUTPUTS_KEY] = torch.from_numpy(np.ascontiguousarray(stored.transpose(2, 0, 1)))
        results[GRID_KEY] = identity_grid(height, width)
        results[VALID_KEY] = np.ones((height, width), np.uint8)
        for key, channels in self.unit_fields.items():
            results[key] = np.ones((height, width, channels), np.float32)
        results.setdefault('aligned_fields', []).extend(
            [GRID_KEY, VALID_KEY, *self.unit_fields])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(cache_dir={self.cache_dir!r})'
