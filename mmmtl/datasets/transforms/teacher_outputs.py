"""Loading of a teacher's cached outputs as maps aligned with the image."""
from typing import Dict, Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmmtl.registry import TRANSFORMS
from mmmtl.tasks import AlignedField, get_task_spec, register_aligned_field
from mmmtl.tasks.aligned_field import resize_array
from mmmtl.utils.teacher_cache import FIELD_PREFIX, VALID_KEY, TeacherCache, stored_size

# Where the cache has a value: 1, and 0 on padding (the rule pads with 0).
register_aligned_field(VALID_KEY, AlignedField('nearest', 0., torch.uint8))


def teacher_field(output: str) -> str:
    """Register the rule of a cached output and return its field key.

    A teacher output is a map of logits: resized bilinearly, padded with 0
    (masked by :data:`VALID_KEY`), and its values follow the rule of
    its task's kind (depth is divided by the resize factor, a horizontal flip
    negates the x component of normals). ``output`` is a task name or
    ``<aux name>.<task>``.
    """
    kind = get_task_spec(output.rsplit('.', 1)[-1]).task_kind
    key = FIELD_PREFIX + output
    register_aligned_field(key, AlignedField('bilinear', 0., torch.float32, kind))
    return key


@TRANSFORMS.register_module()
class LoadTeacherOutputs(BaseTransform):
    """Read an image's cached teacher outputs as maps aligned with the image.

    The outputs of ``tools/distill/cache_teacher.py`` are stored at a
    fraction of the image size; they are resized bilinearly to the image's
    size here and listed in ``aligned_fields``, so every later geometric
    transform moves them as the image (see :class:`~mmmtl.tasks.AlignedField`).
    Put it right after the image and annotations are loaded, before any
    geometric transform.

    A sample that the cache does not hold, or whose entry is missing or
    unreadable, raises an error naming the image.

    Required keys: ``sample_id``, ``img`` (for its size), optional ``img_path``.
    Added keys: ``teacher_<output>`` (H, W, C) float32 per cached output
    (``<output>`` a task or ``<aux name>.<task>``), ``teacher_valid`` (H, W)
    uint8 ones, both listed in ``aligned_fields``; packed by
    ``PackMultiTaskInputs`` as data-sample fields of the same names.

    Args:
        cache_dir: The cache directory (with ``manifest.json``).
    """

    def __init__(self, cache_dir: str) -> None:
        self.cache_dir = cache_dir
        self._cache: Optional[TeacherCache] = None
        # Registered here, in the main process: its data preprocessor pads these fields.
        self.keys: Dict[str, str] = {
            output['name']: teacher_field(output['name'])
            for output in self.cache.manifest['outputs']
        }

    @property
    def cache(self) -> TeacherCache:
        if self._cache is None:
            self._cache = TeacherCache(self.cache_dir)
        return self._cache

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        image = results.get('img_path', results['sample_id'])
        outputs = self.cache.read(results['sample_id'], image)
        fields = results.setdefault('aligned_fields', [])
        expected = stored_size(height, width, self.cache.manifest['scale'])
        for name, stored in outputs.items():
            if stored.shape[:2] != expected:
                raise ValueError(
                    f'teacher cache {self.cache_dir!r}: the entry of {image} is '
                    f'{stored.shape[:2]}, not {expected} (the image is {(height, width)} at '
                    f"scale {self.cache.manifest['scale']}): is it of another image? Place "
                    'LoadTeacherOutputs before every geometric transform.')
            array = np.asarray(stored, dtype=np.float32)  # cv2 resizes no float16
            if array.shape[:2] != (height, width):
                array = resize_array(array, (height, width), 'bilinear')
            results[self.keys[name]] = array
            fields.append(self.keys[name])
        results[VALID_KEY] = np.ones((height, width), np.uint8)
        fields.append(VALID_KEY)
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(cache_dir={self.cache_dir!r})'
