"""Packing of a transformed sample into model inputs and a data sample."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmmtl.registry import TRANSFORMS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import iter_aligned_fields
from mmmtl.utils.teacher_cache import OUTPUTS_KEY

DEFAULT_META_KEYS = ('img_path', 'sample_id', 'ori_shape', 'img_shape', 'pad_shape',
                     'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label', 'tasks')
DEFAULT_DATA_KEYS = (OUTPUTS_KEY, )


@TRANSFORMS.register_module()
class PackMultiTaskInputs(BaseTransform):
    """Pack the image and every task's gt into ``inputs`` and a data sample.

    - ``inputs``: the image as a (3, H, W) tensor (dtype kept, usually uint8
      BGR; the data preprocessor normalises it).
    - ``data_samples``: a :class:`MultiTaskDataSample` with, per map listed
      in ``gt_fields`` and ``aligned_fields``, what its rule packs
      (``AlignedField.pack``): a ``PixelData`` of a (C, H, W) tensor of the
      rule's dtype for per-pixel maps: label and binary maps (1, H, W) int64 (255
      ignore), depth (1, H, W) float32 (0 invalid), normals (3, H, W)
      float32 (zero vector invalid).
    - ``teacher_outputs`` (a data field: the tensor as it is, moved to the
      device with the batch, not copied into the meta) and meta
      ``teacher_grid`` (its :class:`~mmmtl.tasks.SamplingGrid`, which the
      grid's rule packs there): an image's stored teacher outputs, when
      ``LoadTeacherOutputs`` loaded them.

    Meta keys missing from ``results`` get neutral defaults (no flip, unit
    scale factor, ``pad_shape = img_shape``) so that every sample carries the
    same keys.

    Args:
        meta_keys: Keys of ``results`` copied into the data sample's meta.
        data_keys: Keys of ``results`` set as data fields of the sample as
            they are, when present.
    """

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS,
                 data_keys: Sequence[str] = DEFAULT_DATA_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)
        self.data_keys = tuple(data_keys)

    def _meta(self, results: dict) -> dict:
        defaults = dict(
            flip=False, flip_direction=None, scale_factor=(1., 1.),
            reduce_zero_label=False, pad_shape=results.get('img_shape'))
        meta = {}
        for key in self.meta_keys:
            if key in results:
                meta[key] = results[key]
            elif key in defaults:
                meta[key] = defaults[key]
        return meta

    def transform(self, results: dict) -> dict:
        packed = {}
        if 'img' in results:
            img = results['img']
            if img.ndim < 3:
                img = img[..., None]
            packed['inputs'] = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        data_sample = MultiTaskDataSample()
        for key, rule in iter_aligned_fields(results):
            rule.pack(data_sample, key, results[key])
        for key in self.data_keys:
            if key in results:
                data_sample.set_field(results[key], key)
        data_sample.set_metainfo(self._meta(results))
        packed['data_samples'] = data_sample
        return packed

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(meta_keys={self.meta_keys}, '
                f'data_keys={self.data_keys})')
