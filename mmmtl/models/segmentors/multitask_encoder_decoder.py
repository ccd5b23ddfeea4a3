from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.models.utils import resize
from torch import Tensor

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.utils.tasks import get_task_spec

from ..utils import verify_backbone_pretrained

TaskLogits = Dict[str, Tensor]


@MODELS.register_module()
class MultiTaskEncoderDecoder(BaseSegmentor):
    """Shared backbone (+ optional neck) with one light head per task.

    ``task_heads`` maps a task name to its head config; the order of the dict
    is the order of :attr:`tasks`. A single-task baseline is the same class
    with one task.

    Modes of ``forward``:
    - ``loss``: ``{'loss_<task>': weighted loss}``.
    - ``predict``: data samples with ``pred_<field>`` at the original image
      size (class maps for label tasks, probabilities for edge / saliency,
      unit normals, depth >= 0).
    - ``tensor``: ``{task: logits (N, C_task, H, W)}`` at the input size, the
      interface of :class:`KDAMDistiller`.

    Args:
        backbone: Backbone config (any mmseg / timm backbone).
        task_heads: ``{task: head config}``; ``task`` is filled in, and so is
            ``in_channels`` of an ``ATRCBaselineHead`` that omits it (from the
            neck's ``out_channels``), so head configs are backbone-agnostic.
        neck: Optional neck config (e.g. ``MultiScaleConcatNeck``).
        shared_head_cfg: Keys set on every task head's config (e.g.
            ``channels`` or ``norm_cfg``), so a backbone config can resize all
            heads of ``configs/_base_/models/heads_*.py`` at once.
        task_weighting: Optional learned weighting, e.g.
            ``dict(type='UncertaintyWeighting')``; the fixed weights are the
            heads' ``loss_weight``.
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
                 task_heads: Dict[str, dict],
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
        if not task_heads:
            raise ValueError('MultiTaskEncoderDecoder needs at least one task in task_heads.')
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            self.neck = MODELS.build(neck)
        heads = {}
        neck_channels = getattr(getattr(self, 'neck', None), 'out_channels', None)
        for task, head_cfg in task_heads.items():
            get_task_spec(task)
            head_cfg = dict(head_cfg, **(shared_head_cfg or {}), task=task)
            if 'in_channels' not in head_cfg and head_cfg.get('type') == 'ATRCBaselineHead':
                if neck_channels is None:
                    raise KeyError(f'Task {task!r}: the head has no in_channels and the '
                                   'neck does not tell its out_channels.')
                head_cfg['in_channels'] = neck_channels
            heads[task] = MODELS.build(head_cfg)
        self.task_heads = nn.ModuleDict(heads)
        self.task_weighting = None
        if task_weighting is not None:
            self.task_weighting = MODELS.build(dict(task_weighting, tasks=self.tasks))
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg or dict(mode='whole')
        self.align_corners = align_corners
        self.pretrained_min_coverage = pretrained_min_coverage

    def init_weights(self) -> None:
        """Check the backbone's pretrained checkpoint, then initialise."""
        if self.pretrained_min_coverage is not None and not getattr(
                self.backbone, 'is_init', False):
            verify_backbone_pretrained(self.backbone, self.pretrained_min_coverage)
        super().init_weights()

    @property
    def tasks(self) -> List[str]:
        return list(self.task_heads.keys())

    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """(N, 3, H, W) -> backbone (and neck) feature maps."""
        feats = self.backbone(inputs)
        if self.with_neck:
            feats = self.neck(feats)
        return feats

    def forward_tasks(self, inputs: Tensor) -> TaskLogits:
        """Return ``{task: logits (N, C_task, H, W)}`` at the input size."""
        feats = self.extract_feat(inputs)
        size = inputs.shape[2:]
        return {
            task: resize(head(feats), size=size, mode='bilinear',
                         align_corners=self.align_corners)
            for task, head in self.task_heads.items()
        }

    def encode_decode(self, inputs: Tensor, batch_img_metas: List[dict]) -> TaskLogits:
        """mmseg interface: logits of every task at the input size."""
        return self.forward_tasks(inputs)

    def _stack_gt(self, task: str, data_samples: List[MultiTaskDataSample]) -> Tensor:
        key = get_task_spec(task).gt_key
        gts = []
        for sample in data_samples:
            if key not in sample:
                raise KeyError(
                    f'Task {task!r} is in task_heads but the data sample of '
                    f'{sample.metainfo.get("img_path", "<unknown image>")} has no '
                    f'{key!r}: the dataset does not provide this task (its tasks: '
                    f'{sample.metainfo.get("tasks")}).')
            gts.append(getattr(sample, key).data)
        return torch.stack(gts, dim=0)

    def loss_by_task_logits(self, task_logits: TaskLogits,
                            data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """Weighted loss of every task from already computed logits."""
        task_losses = {}
        for task, logits in task_logits.items():
            target = self._stack_gt(task, data_samples).to(logits.device)
            if target.shape[-2:] != logits.shape[-2:]:
                raise ValueError(f'Task {task!r}: gt of size {tuple(target.shape[-2:])} '
                                 f'does not match the input size {tuple(logits.shape[-2:])}.')
            task_losses[task] = self.task_heads[task].loss(logits, target)
        if self.task_weighting is not None:
            task_losses = self.task_weighting(task_losses)
        return {f'loss_{task}': loss for task, loss in task_losses.items()}

    def loss(self, inputs: Tensor, data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        return self.loss_by_task_logits(self.forward_tasks(inputs), data_samples)

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
        spec = get_task_spec(task)
        if spec.kind == 'label':
            return logits.argmax(dim=0, keepdim=True)
        if spec.kind == 'binary':
            if logits.shape[0] == 2:
                return logits.softmax(dim=0)[1:2]
            return logits.sigmoid()
        if spec.kind == 'normal':
            return F.normalize(logits, dim=0)
        return logits.clamp(min=0)

    def postprocess_result(self, task_logits: TaskLogits,
                           data_samples: Optional[List[MultiTaskDataSample]] = None
                           ) -> List[MultiTaskDataSample]:
        """Crop the padding, resize to ``ori_shape`` and decode every task.

        Depth predicted on a test image resized by ``s`` is multiplied by
        ``s`` back, the inverse of the training-time convention (resizing by
        ``s`` divides depth by ``s``).
        """
        batch = next(iter(task_logits.values())).shape[0]
        if data_samples is None:
            data_samples = [MultiTaskDataSample() for _ in range(batch)]
        for index, sample in enumerate(data_samples):
            meta = sample.metainfo
            left, right, top, bottom = meta.get('padding_size', (0, 0, 0, 0))
            for task, logits in task_logits.items():
                single = logits[index:index + 1]
                height, width = single.shape[2:]
                single = single[:, :, top:height - bottom, left:width - right]
                ori_shape = meta.get('ori_shape', single.shape[2:])
                if tuple(single.shape[2:]) != tuple(ori_shape[:2]):
                    single = resize(single, size=ori_shape[:2], mode='bilinear',
                                    align_corners=self.align_corners)
                    if task == 'depth':
                        scale = meta.get('scale_factor', (1., 1.))
                        single = single * float(sum(scale) / len(scale))
                prediction = self.logits_to_prediction(task, single[0])
                setattr(sample, get_task_spec(task).pred_key, PixelData(data=prediction))
        return data_samples
