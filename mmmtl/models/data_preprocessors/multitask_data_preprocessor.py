from numbers import Number
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor
from mmengine.structures import PixelData

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import ALIGNED_FIELDS


def _target_size(shapes: List[Tuple[int, int]], size: Optional[Tuple[int, int]],
                 size_divisor: Optional[int]) -> Tuple[int, int]:
    """(H, W) that every image of the batch is padded to."""
    height = max(h for h, _ in shapes)
    width = max(w for _, w in shapes)
    if size is not None:
        height, width = max(height, size[0]), max(width, size[1])
    if size_divisor is not None and size_divisor > 1:
        height = (height + size_divisor - 1) // size_divisor * size_divisor
        width = (width + size_divisor - 1) // size_divisor * size_divisor
    return height, width


@MODELS.register_module()
class MultiTaskDataPreProcessor(BaseDataPreprocessor):
    """Normalise, convert and pad a multi-task batch.

    Images are padded at the bottom/right (``pad_center``: equally on both
    sides, the odd pixel at the bottom/right) with ``pad_val`` to ``size``
    (H, W) and/or a multiple of ``size_divisor``; in training every ``gt_*`` map of
    the data samples is padded the same way with its task's pad value (255 for
    label maps, 0 for depth and normals, i.e. ignored). ``batch_input_shape``
    and ``padding_size`` (left, right, top, bottom) are written to each
    sample's meta so predictions can be cropped back.

    Args:
        mean, std: Per-channel normalisation of the (B, 3, H, W) input.
        size: Minimum padded size (H, W).
        size_divisor: Pad H and W to multiples of this.
        pad_val: Padding value of the image.
        bgr_to_rgb, rgb_to_bgr: Channel order conversion.
        test_pad: Whether to pad in test mode too (needed by backbones with a
            fixed stride such as Swin; predictions are cropped back).
        pad_center: Centre the image in the padded canvas, as the test
            transforms of InvPT / ATRC-based code (``PadImage``) do.
    """

    def __init__(self,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 size: Optional[Tuple[int, int]] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: Number = 0,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 test_pad: bool = True,
                 pad_center: bool = False) -> None:
        super().__init__()
        self.pad_center = pad_center
        if bgr_to_rgb and rgb_to_bgr:
            raise ValueError('`bgr_to_rgb` and `rgb_to_bgr` cannot both be True.')
        self.size = tuple(size) if size is not None else None
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.channel_conversion = bgr_to_rgb or rgb_to_bgr
        self.test_pad = test_pad
        if (mean is None) != (std is None):
            raise ValueError('Set both `mean` and `std` to normalise the inputs.')
        self._enable_normalize = mean is not None
        if self._enable_normalize:
            self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(std).view(-1, 1, 1), False)

    @staticmethod
    def _pad_gt(data_sample: MultiTaskDataSample, padding: Tuple[int, int, int, int]) -> None:
        """Pad every aligned map of the sample (ground truth, ...) by its rule;
        ``padding`` is (left, right, top, bottom), as ``F.pad``."""
        for key, rule in ALIGNED_FIELDS.items():
            if key in data_sample and key not in data_sample.metainfo:  # a SamplingGrid is meta
                padded = rule.pad_tensor(getattr(data_sample, key).data, padding)
                setattr(data_sample, key, PixelData(data=padded))

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Return ``dict(inputs=(B, 3, H, W) float, data_samples=[...])``."""
        data = self.cast_data(data)
        inputs = data['inputs']
        data_samples = data.get('data_samples', None)
        if isinstance(inputs, torch.Tensor):
            inputs = list(inputs)
        if self.channel_conversion:
            inputs = [img[[2, 1, 0], ...] if img.size(0) == 3 else img for img in inputs]
        inputs = [img.float() for img in inputs]
        if self._enable_normalize:
            inputs = [(img - self.mean) / self.std for img in inputs]

        if not training and not self.test_pad:
            shapes = {tuple(img.shape[1:]) for img in inputs}
            if len(shapes) != 1:
                raise ValueError('Images of a test batch differ in size '
                                 f'({sorted(shapes)}); set test_pad=True.')
            height, width = inputs[0].shape[1:]
        else:
            height, width = _target_size([tuple(img.shape[1:]) for img in inputs],
                                         self.size, self.size_divisor)
        padded = []
        for index, img in enumerate(inputs):
            pad_h, pad_w = height - img.shape[1], width - img.shape[2]
            top, left = (pad_h // 2, pad_w // 2) if self.pad_center else (0, 0)
            padding = (left, pad_w - left, top, pad_h - top)  # F.pad order
            padded.append(F.pad(img, padding, value=self.pad_val))
            if data_samples is not None:
                sample = data_samples[index]
                if training:
                    self._pad_gt(sample, padding)
                sample.set_metainfo(
                    dict(batch_input_shape=(height, width), padding_size=padding))
        return dict(inputs=torch.stack(padded, dim=0), data_samples=data_samples)
