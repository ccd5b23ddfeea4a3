from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from torch import Tensor

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import get_task_spec

from ..decoders.base_decoder import build_decoder, fill_in_channels
from ..utils import verify_backbone_pretrained

TaskLogits = Dict[str, Tensor]


@MODELS.register_module()
class MultiTaskEncoderDecoder(BaseSegmentor):
    """Shared backbone (+ optional neck) and one multi-task decoder.

    The decoder maps the features to ``{task: logits}``
    (:class:`~mmmtl.models.decoders.BaseMultiTaskDecoder`): independent task
    heads (the multi-task baseline) or a decoder in which tasks interact
    (ATRC, DeMT, InvPT). ``task_heads=`` is shorthand for
    ``decoder=dict(type='IndependentHeadsDecoder', task_heads=...)``; a
    single-task baseline is the same class with one task.

    Modes of ``forward``:
    - ``loss``: ``{'loss_<task>': weighted loss}`` and, for decoders with
      auxiliary outputs, ``{'loss_<task>_<aux name>': ...}``.
    - ``predict``: data samples with ``pred_<field>`` at the original image
      size (class maps for label tasks, probabilities for edge / saliency,
      unit normals, depth >= 0).
    - ``tensor``: ``{task: logits (N, C_task, H, W)}`` at the input size, the
      interface of :class:`KDAMDistiller`.

    Args:
        backbone: Backbone config (any mmseg / timm backbone).
        decoder: Multi-task decoder config; its ``in_channels`` is filled in
            from the neck's ``out_channels`` when omitted.
        task_heads: ``{task: head config}`` of an ``IndependentHeadsDecoder``
            (give this or ``decoder``); ``in_channels`` of an
            ``ATRCBaselineHead`` that omits it comes from the neck.
        neck: Optional neck config (e.g. ``MultiScaleConcatNeck``).
        shared_head_cfg: With ``task_heads``: keys set on every task head's
            config (e.g. ``channels`` or ``norm_cfg``).
        task_weighting: Optional learned weighting of the final task losses,
            e.g. ``dict(type='UncertaintyWeighting')``.
        train_cfg: Unused, kept for the OpenMMLab interface.
        test_cfg: ``dict(mode='whole')`` or ``dict(mode='slide',
            crop_size=(h, w), stride=(h, w))``.
        data_preprocessor: Usually ``MultiTaskDataPreProcessor``.
        align_corners: ``align_corners`` of every resize.
        pretrained_min_coverage: Before the backbone loads its ``Pretrained``
            ``init_cfg``, the checkpoint must fit it: same shapes, and this
            fraction of its weights found (else a ``ValueError`` naming the
            keys). ``None`` skips the check.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 decoder: Optional[dict] = None,
                 task_heads: Optional[Dict[str, dict]] = None,
                 neck: Optional[dict] = None,
                 task_weighting: Optional[dict] = None,
                 shared_head_cfg: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 align_corners: bool = False,
                 pretrained_min_coverage: Optional[float] = 0.99,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if (decoder is None) == (task_heads is None):
            raise ValueError('MultiTaskEncoderDecoder: give exactly one of `decoder` and '
                             f'`task_heads` (got decoder={decoder!r}, task_heads={task_heads!r}).')
        if task_heads is not None:
            decoder = dict(type='IndependentHeadsDecoder', task_heads=task_heads,
                           shared_head_cfg=shared_head_cfg)
        elif shared_head_cfg is not None:
            raise ValueError('MultiTaskEncoderDecoder: shared_head_cfg goes with task_heads; '
                             'set head options inside the decoder config.')
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        neck_channels = getattr(getattr(self, 'neck', None), 'out_channels', None)
        self.decoder = build_decoder(fill_in_channels(decoder, neck_channels))
        self.task_weighting = None
        if task_weighting is not None:
            self.task_weighting = MODELS.build(dict(task_weighting, tasks=self.tasks))
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg or dict(mode='whole')
        self.align_corners = align_corners
        self.pretrained_min_coverage = pretrained_min_coverage
        self._register_load_state_dict_pre_hook(_upgrade_state_dict_hook)

    def init_weights(self) -> None:
        """Check the backbone's pretrained checkpoint, then initialise."""
        if self.pretrained_min_coverage is not None and not getattr(
                self.backbone, 'is_init', False):
            verify_backbone_pretrained(self.backbone, self.pretrained_min_coverage)
        super().init_weights()

    @property
    def tasks(self) -> List[str]:
        return self.decoder.tasks

    @property
    def task_heads(self) -> nn.ModuleDict:
        """``{task: head}`` of an :class:`IndependentHeadsDecoder`."""
        heads = getattr(self.decoder, 'task_heads', None)
        if heads is None:
            raise AttributeError(f'{type(self.decoder).__name__} has no independent task heads.')
        return heads

    @property
    def task_channels(self) -> Dict[str, int]:
        """``{task: output channels}`` (classes for label tasks)."""
        return dict(self.decoder.out_channels)

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """(N, 3, H, W) -> backbone (and neck) feature maps."""
        feats = self.backbone(inputs)
        if self.with_neck:
            feats = self.neck(feats)
        return feats

    def _to_input_size(self, task_logits: TaskLogits, size) -> TaskLogits:
        return {
            task: logits if logits.shape[2:] == size else resize(
                logits, size=size, mode='bilinear', align_corners=self.align_corners)
            for task, logits in task_logits.items()
        }

    def forward_tasks_with_aux(self, inputs: Tensor) -> Tuple[TaskLogits, Dict[str, TaskLogits]]:
        """Final and auxiliary ``{task: (N, C_task, H, W)}`` logits at the input size."""
        final, aux = self.decoder.forward_with_aux(self.extract_feat(inputs))
        size = inputs.shape[2:]
        return (self._to_input_size(final, size),
                {name: self._to_input_size(logits, size) for name, logits in aux.items()})

    def forward_tasks(self, inputs: Tensor) -> TaskLogits:
        """Return ``{task: logits (N, C_task, H, W)}`` at the input size."""
        return self._to_input_size(self.decoder(self.extract_feat(inputs)), inputs.shape[2:])

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> TaskLogits:
        """mmseg interface: logits of every task at the input size."""
        return self.forward_tasks(inputs)

    def _stack_gt(self, task: str, data_samples: List[MultiTaskDataSample]) -> Tensor:
        key = get_task_spec(task).gt_key
        gts = []
        for sample in data_samples:
            if key not in sample:
                raise KeyError(
                    f'Task {task!r} is a task of the model but the data sample of '
                    f'{sample.metainfo.get("img_path", "<unknown image>")} has no '
                    f'{key!r}: the dataset does not provide this task (its tasks: '
                    f'{sample.metainfo.get("tasks")}).')
            gts.append(getattr(sample, key).data)
        return torch.stack(gts, dim=0)

    def loss_by_task_logits(self, task_logits: TaskLogits,
                            data_samples: List[MultiTaskDataSample],
                            aux_logits: Optional[Dict[str, TaskLogits]] = None
                            ) -> Dict[str, Tensor]:
        """Weighted losses of every task from logits at the input size.

        Returns ``loss_<task>`` for the final logits (after the optional
        task weighting) and ``loss_<task>_<aux name>`` for auxiliary logits.
        """
        targets = {}
        for task, logits in task_logits.items():
            target = self._stack_gt(task, data_samples).to(logits.device)
            if target.shape[-2:] != logits.shape[-2:]:
                raise ValueError(f'Task {task!r}: gt of size {tuple(target.shape[-2:])} '
                                 f'does not match the input size {tuple(logits.shape[-2:])}.')
            targets[task] = target
        task_losses = {
            task: self.decoder.task_loss(task, logits, targets[task])
            for task, logits in task_logits.items()
        }
        if self.task_weighting is not None:
            task_losses = self.task_weighting(task_losses)
        losses = {f'loss_{task}': loss for task, loss in task_losses.items()}
        for name, logits_by_task in (aux_logits or {}).items():
            for task, logits in logits_by_task.items():
                losses[f'loss_{task}_{name}'] = self.decoder.aux_task_loss(
                    name, task, logits, targets[task])
        return losses

    def loss(self, inputs: Tensor, data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        final, aux = self.forward_tasks_with_aux(inputs)
        return self.loss_by_task_logits(final, data_samples, aux)

    def slide_inference(self, inputs: Tensor) -> TaskLogits:
        """Average logits of overlapping ``crop_size`` windows."""
        h_stride, w_stride = self.test_cfg['stride']
        h_crop, w_crop = self.test_cfg['crop_size']
        batch, _, height, width = inputs.shape
        h_grids = max(height - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(width - w_crop + w_stride - 1, 0) // w_stride + 1
        sums: TaskLogits = {}
        count = inputs.new_zeros((batch, 1, height, width))
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y1 = max(min(h_idx * h_stride, height - h_crop), 0)
                x1 = max(min(w_idx * w_stride, width - w_crop), 0)
                y2, x2 = min(y1 + h_crop, height), min(x1 + w_crop, width)
                crop_logits = self.forward_tasks(inputs[:, :, y1:y2, x1:x2])
                for task, logits in crop_logits.items():
                    if task not in sums:
                        sums[task] = inputs.new_zeros((batch, logits.shape[1], height, width))
                    sums[task][:, :, y1:y2, x1:x2] += logits
                count[:, :, y1:y2, x1:x2] += 1
        return {task: total / count for task, total in sums.items()}

    def inference(self, inputs: Tensor) -> TaskLogits:
        mode = self.test_cfg.get('mode', 'whole')
        if mode == 'slide':
            return self.slide_inference(inputs)
        if mode != 'whole':
            raise ValueError(f"test_cfg.mode must be 'whole' or 'slide', got {mode!r}.")
        return self.forward_tasks(inputs)

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[MultiTaskDataSample]] = None
                ) -> List[MultiTaskDataSample]:
        return self.postprocess_result(self.inference(inputs), data_samples)

    def _forward(self, inputs: Tensor,
                 data_samples: Optional[List[MultiTaskDataSample]] = None) -> TaskLogits:
        return self.forward_tasks(inputs)

    @staticmethod
    def logits_to_prediction(task: str, logits: Tensor) -> Tensor:
        """(C, H, W) logits of one image -> the task's prediction map."""
        return get_task_spec(task).task_kind.predict(logits)

    def postprocess_result(self, task_logits: TaskLogits,
                           data_samples: Optional[List[MultiTaskDataSample]] = None
                           ) -> List[MultiTaskDataSample]:
        """Crop the padding, resize to ``ori_shape`` and decode every task.

        Values that scale with the image (depth) predicted on a test image
        resized by ``s`` are rescaled by ``1 / s``, the inverse of the
        training-time convention (resizing by ``s`` divides depth by ``s``).
        """
        batch = next(iter(task_logits.values())).shape[0]
        if data_samples is None:
            data_samples = [MultiTaskDataSample() for _ in range(batch)]
        for index, sample in enumerate(data_samples):
            meta = sample.metainfo
            left, right, top, bottom = meta.get('padding_size', (0, 0, 0, 0))
            for task, logits in task_logits.items():
                kind = get_task_spec(task).task_kind
                single = logits[index:index + 1]
                height, width = single.shape[2:]
                single = single[:, :, top:height - bottom, left:width - right]
                ori_shape = meta.get('ori_shape', single.shape[2:])
                if tuple(single.shape[2:]) != tuple(ori_shape[:2]):
                    single = resize(single, size=ori_shape[:2], mode='bilinear',
                                    align_corners=self.align_corners)
                    scale = meta.get('scale_factor', (1., 1.))
                    single = kind.rescale(single, 1 / float(sum(scale) / len(scale)))
                prediction = kind.predict(single[0])
                setattr(sample, get_task_spec(task).pred_key, PixelData(data=prediction))
        return data_samples


def upgrade_state_dict(state_dict: dict, prefix: str = '') -> None:
    """Rename, in place, the keys of a checkpoint written before decoders existed.

    ``<prefix>task_heads.<task>.*`` (independent heads held by the segmentor)
    became ``<prefix>decoder.task_heads.<task>.*``.
    """
    old = prefix + 'task_heads.'
    for key in [key for key in state_dict if key.startswith(old)]:
        state_dict[prefix + 'decoder.' + key[len(prefix):]] = state_dict.pop(key)


def _upgrade_state_dict_hook(state_dict, prefix, *args, **kwargs) -> None:
    upgrade_state_dict(state_dict, prefix)
