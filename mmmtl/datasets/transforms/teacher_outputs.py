"""Loading of a teacher's cached outputs, aligned with the image through a sampling grid."""
from typing import Iterable, List, Optional

import torch
from mmcv.transforms import BaseTransform

from mmmtl.registry import TRANSFORMS
from mmmtl.tasks import (
    SamplingGrid,
    SamplingGridField,
    TaskKind,
    get_task_spec,
    register_aligned_field,
)
from mmmtl.utils.teacher_cache import GRID_KEY, OUTPUTS_KEY, TeacherCache, stored_size

# Where each pixel of the (transformed) image samples the stored outputs.
register_aligned_field(GRID_KEY, SamplingGridField())


def has_value_rules(kind: TaskKind) -> bool:
    """Whether the values of the kind's maps change with the geometry (depth, normals)."""
    return type(kind).rescale is not TaskKind.rescale or type(kind).flip is not TaskKind.flip


def value_rule_kinds(tasks: Iterable[str]) -> List[TaskKind]:
    """The kinds of ``tasks`` whose values change with the geometry, by name."""
    kinds = {get_task_spec(task).task_kind for task in tasks}
    return sorted((kind for kind in kinds if has_value_rules(kind)), key=lambda kind: kind.name)


@TRANSFORMS.register_module()
class LoadTeacherOutputs(BaseTransform):
    """Read an image's cached teacher outputs and align them with the image.

    The outputs of ``tools/distill/cache_teacher.py`` stay at their stored
    size (a fraction of the image's), untouched by the pipeline. What follows
    the image is where its pixels sample them, ``teacher_grid``: a
    :class:`~mmmtl.tasks.SamplingGrid`, an aligned field like the ground
    truth, so every geometric transform (resize, crop, flip, pad and any
    other that moves the aligned fields by their rules) moves it as the
    image. It is an affine record, not a per-pixel map: the pipeline carries
    four numbers, a box and the factors of the task kinds' value rules (depth
    divided by the resize factor, a horizontal flip negates the x component
    of normals). The distiller builds the dense grid on its device and
    samples the stored outputs there, one bilinear interpolation
    (:func:`~mmmtl.models.distillers.teacher_cache.cached_teacher_outputs`).

    Place it before every geometric transform. A sample that the cache does
    not hold, or whose entry is missing, unreadable or of another size than
    the image's, raises an error naming the image.

    Required keys: ``sample_id``, ``img`` (for its size), optional ``img_path``.
    Added keys: ``teacher_outputs``, the (h, w, C) tensor of the stored
    dtype (the outputs' channels concatenated in manifest order;
    ``PackMultiTaskInputs`` makes it a data field of the sample), and ``teacher_grid``,
    listed in ``aligned_fields``.

    Args:
        cache_dir: The cache directory (with ``manifest.json``).
    """

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = cache_dir
        self._cache: Optional[TeacherCache] = None
        self.kinds = value_rule_kinds(name.rsplit('.', 1)[-1] for name in self.cache.slices)

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
        results[OUTPUTS_KEY] = torch.from_numpy(stored)
        results[GRID_KEY] = SamplingGrid.identity(height, width, self.kinds)
        results.setdefault('aligned_fields', []).append(GRID_KEY)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(cache_dir={self.cache_dir!r})'
