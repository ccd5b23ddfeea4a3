"""The loss of one task: mmseg decode losses and mmmtl task losses behind one call.

A multi-task head stacks the ground truth of its task from ``gt_<field>`` into
an (N, k, H, W) tensor. Two kinds of loss modules consume it:

- **Task losses** declare the task kinds they serve in a class attribute
  ``task_kinds`` (e.g. ``DepthL1Loss.task_kinds = ('depth', )``) and read the
  stacked target as it is: ``loss(logits, target)``. mmmtl's own losses and a
  user's losses for depth / normals are of this kind.
- **mmseg decode losses** (``CrossEntropyLoss``, ``DiceLoss``, ``FocalLoss``,
  ``LovaszLoss``, ... and any loss without ``task_kinds``) follow the
  convention of mmseg's ``BaseDecodeHead.loss_by_feat``: (N, C, H, W) logits,
  (N, H, W) int64 labels, and the keyword arguments ``weight`` (the pixel
  sampler's weights) and ``ignore_index`` when the loss's ``forward`` takes
  them. They serve label tasks (semseg, human parts) and two-class tasks
  (edge, saliency).

A list of losses is summed, as in mmseg's decode heads; every loss applies
its own ``loss_weight``.
"""
import inspect
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmseg.models.losses import (
    BoundaryLoss,
    CrossEntropyLoss,
    DiceLoss,
    FocalLoss,
    HuasdorffDisstanceLoss,
    LovaszLoss,
    OhemCrossEntropy,
    SiLogLoss,
    TverskyLoss,
)
from mmseg.models.losses.kldiv_loss import KLDivLoss
from mmseg.models.losses.lovasz_loss import lovasz_hinge
from torch import Tensor

from mmmtl.registry import MODELS, TASK_UTILS
from mmmtl.tasks import TASK_KINDS, get_task_spec

LossConfig = Union[dict, Sequence[dict]]


# Losses that take the stacked target and have no ``task_kinds`` attribute.
_STACKED_LOSSES: Tuple[Tuple[type, Tuple[str, ...]], ...] = ((SiLogLoss, ('depth', )), )
# mmseg decode losses and the task kinds they serve (None: every label-map kind).
_LABEL_MAP_LOSSES: Tuple[Tuple[type, Optional[Tuple[str, ...]]], ...] = (
    (CrossEntropyLoss, None), (DiceLoss, None), (FocalLoss, None),
    (LovaszLoss, None), (OhemCrossEntropy, None), (TverskyLoss, ('label', )),
    (HuasdorffDisstanceLoss, ('label', )), (BoundaryLoss, ('binary', )))
_KNOWN_LABEL_MAP_LOSSES = tuple(loss_type for loss_type, _ in _LABEL_MAP_LOSSES)
# mmseg decode losses whose `weight` is not a pixel weight (Dice: per image;
# Lovasz: unused), so a pixel sampler would fail or be ignored.
_NO_PIXEL_WEIGHT = (DiceLoss, LovaszLoss)
# mmseg's loss between two predictions: no task target fits it (ours say so with a
# class attribute ``is_distillation_loss``).
_NOT_TASK_LOSSES = (KLDivLoss, )


def _target_of(kind: str) -> str:
    """The stacked target of task kind ``kind`` in words (the name if unknown)."""
    return TASK_KINDS[kind].target if kind in TASK_KINDS else kind


def _reraise(exc: Exception, message: str) -> None:
    """Raise ``exc`` again, of the same type where possible, with ``message``."""
    try:
        error = type(exc)(message)
    except Exception:  # an exception type with other constructor arguments
        error = RuntimeError(message)
    raise error from exc


def _reads_one_logit(loss: nn.Module) -> bool:
    """Whether an mmseg decode loss reads one channel as the foreground logit."""
    if isinstance(loss, (FocalLoss, BoundaryLoss)):
        return True
    if isinstance(loss, CrossEntropyLoss):
        return bool(loss.use_sigmoid)
    return isinstance(loss, LovaszLoss) and loss.cls_criterion is lovasz_hinge


def _forward_kwargs(loss: nn.Module) -> Tuple[bool, bool]:
    """Whether ``loss.forward`` takes ``weight`` and ``ignore_index`` keywords."""
    params = inspect.signature(loss.forward).parameters
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    return 'weight' in params, 'ignore_index' in params or var_kw


class TaskLoss(nn.Module):
    """Build, check and apply the loss(es) of one task.

    Example:
        >>> loss = TaskLoss('semseg', [
        ...     dict(type='CrossEntropyLoss', avg_non_ignore=True),
        ...     dict(type='DiceLoss', loss_weight=0.5)])
        >>> loss(logits, target)  # (N, C, H, W), (N, 1, H, W) -> scalar

    Args:
        task: Task name (``semseg``, ``depth``, ...).
        loss_decode: Loss config, or a list of configs whose losses are
            summed. Each loss applies its own ``loss_weight``.
        ignore_index: Label of ignored pixels passed to mmseg decode losses
            (mmseg's decode-head ``ignore_index``); the datasets mark
            ignored pixels with 255.
        sampler: Optional mmseg pixel sampler config, e.g.
            ``dict(type='OHEMPixelSampler', thresh=0.7, min_kept=10000)``;
            its pixel weights are passed to every loss as ``weight``. Label
            tasks with mmseg decode losses only.

    Raises:
        ValueError: if a loss cannot serve the task (naming task, loss and
            the target it gets), or the sampler cannot be used.
    """

    def __init__(self, task: str, loss_decode: LossConfig, ignore_index: int = 255,
                 sampler: Optional[dict] = None) -> None:
        super().__init__()
        spec = get_task_spec(task)
        self.task = task
        self.kind = spec.kind
        self.task_kind = spec.task_kind
        self.ignore_index = int(ignore_index)
        configs = [loss_decode] if isinstance(loss_decode, dict) else list(loss_decode or [])
        if not configs or not all(isinstance(cfg, dict) for cfg in configs):
            raise TypeError(f'Task {task!r}: loss_decode must be a loss config dict or a '
                            f'non-empty list of them, got {loss_decode!r}.')
        self.losses = nn.ModuleList(self._build(cfg) for cfg in configs)
        # Per loss: reads mmseg label maps (True) or the stacked target (False).
        self._label_map: List[bool] = []
        self._kwargs: List[Tuple[bool, bool]] = []
        for loss in self.losses:
            label_map = self._check_fit(loss)
            self._label_map.append(label_map)
            self._kwargs.append(_forward_kwargs(loss) if label_map else (False, False))
        self.sampler = None
        if sampler is not None:
            self._check_sampler(sampler)
            self.sampler = TASK_UTILS.build(
                sampler, default_args=dict(context=_SamplerContext(self.losses,
                                                                   self.ignore_index)))

    # ----------------------------------------------------------- checks
    def _build(self, cfg: dict) -> nn.Module:
        try:
            return MODELS.build(cfg)
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            _reraise(exc, f'Task {self.task!r}: cannot build the loss {cfg!r}: {exc}')

    def _describe(self, loss: nn.Module) -> str:
        return f'Task {self.task!r} ({self.task_kind.target}) cannot use {type(loss).__name__}'

    def _check_fit(self, loss: nn.Module) -> bool:
        """Raise if ``loss`` cannot serve the task; True if it reads label maps."""
        declared = getattr(type(loss), 'task_kinds', None)
        if declared is not None:
            if self.kind not in declared:
                raise ValueError(
                    f'{self._describe(loss)}: it is a loss for '
                    f'{" / ".join(declared) or "no task"} targets '
                    f'({"; ".join(_target_of(k) for k in declared)}).')
            return False
        if isinstance(loss, _NOT_TASK_LOSSES) or getattr(loss, 'is_distillation_loss', False):
            raise ValueError(f'{self._describe(loss)}: it compares two predictions '
                             '(a distillation loss), not a prediction with a ground truth.')
        for loss_type, kinds in _STACKED_LOSSES:
            if isinstance(loss, loss_type):
                if self.kind not in kinds:
                    raise ValueError(f'{self._describe(loss)}: it is a loss for '
                                     f'{" / ".join(kinds)} targets '
                                     f'({"; ".join(_target_of(k) for k in kinds)}).')
                return False
        if isinstance(loss, CrossEntropyLoss) and loss.class_weight is not None and \
                loss.reduction == 'mean' and not loss.use_sigmoid:
            raise ValueError(
                f'Task {self.task!r}: mmseg\'s CrossEntropyLoss with class_weight indexes the '
                'class weights with every label, ignored ones included, and fails on any '
                'batch with ignored (255) pixels (mmseg 1.2.2, '
                'open-mmlab/mmsegmentation#3734). Use MultiTaskCrossEntropyLoss('
                'class_weight=...), which is CrossEntropyLoss(avg_non_ignore=True) with '
                'class weights.')
        kinds = None
        for loss_type, known_kinds in _LABEL_MAP_LOSSES:
            if isinstance(loss, loss_type):
                kinds = known_kinds
                break
        if kinds is None:
            kinds = tuple(name for name, kind in TASK_KINDS.items() if kind.label_map)
        if self.kind not in kinds:
            hint = '' if self.task_kind.label_map else (
                f' Use a {self.kind} loss (e.g. {self.task_kind.loss_hint}); '
                'a loss of your own that reads this target declares '
                f"`task_kinds = ('{self.kind}', )` on its class.")
            raise ValueError(
                f'{self._describe(loss)}: it is a classification loss in mmseg\'s '
                'decode-loss convention, expecting (N, C, H, W) logits and (N, H, W) '
                f'int64 class labels ({" or ".join(kinds)} tasks).{hint}')
        return True

    def _check_sampler(self, sampler: dict) -> None:
        if not isinstance(sampler, dict):
            raise TypeError(f'Task {self.task!r}: sampler must be a config dict, got '
                            f'{sampler!r}.')
        if not self.task_kind.label_map:
            raise ValueError(f'Task {self.task!r}: a pixel sampler ({sampler.get("type")}) '
                             f'samples label maps; a {self.kind} task has none.')
        for loss, label_map, (takes_weight, _) in zip(self.losses, self._label_map,
                                                      self._kwargs):
            if not label_map or not takes_weight or isinstance(loss, _NO_PIXEL_WEIGHT):
                raise ValueError(
                    f'Task {self.task!r}: the sampler {sampler.get("type")} weights pixels '
                    f'through the `weight` argument of mmseg decode losses, which '
                    f'{type(loss).__name__} does not take per pixel; use it with pixel-wise '
                    'losses such as CrossEntropyLoss.')

    # ---------------------------------------------------------- forward
    @property
    def loss_names(self) -> List[str]:
        """Name of each loss: its ``loss_name`` (mmseg) or class name."""
        return [getattr(loss, 'loss_name', type(loss).__name__) for loss in self.losses]

    def loss_terms(self, logits: Tensor, target: Tensor) -> Dict[str, Tensor]:
        """``{loss_name: weighted loss}``; losses of the same name are summed.

        Args:
            logits: (N, C, H, W) logits of the task.
            target: (N, k, H, W) ground truth as stacked from ``gt_<field>``.
        """
        if logits.dim() != 4 or target.dim() != 4 or logits.shape[0] != target.shape[0] \
                or logits.shape[2:] != target.shape[2:]:
            raise ValueError(f'Task {self.task!r}: logits {tuple(logits.shape)} and target '
                             f'{tuple(target.shape)} must be (N, C, H, W) and (N, k, H, W) '
                             'of the same N, H, W.')
        labels = weight = None
        if any(self._label_map):
            labels = target.squeeze(1).long()
            if self.sampler is not None:
                weight = self._call(self.sampler.sample, logits, target.long(), {},
                                    type(self.sampler).__name__)
        terms: Dict[str, Tensor] = {}
        for loss, name, label_map, (takes_weight, takes_ignore) in zip(
                self.losses, self.loss_names, self._label_map, self._kwargs):
            if label_map:
                kwargs = {}
                if takes_weight:
                    kwargs['weight'] = weight
                if takes_ignore:
                    kwargs['ignore_index'] = self.ignore_index
                self._check_runnable(loss, logits)
                value = self._call(loss, logits, labels, kwargs)
            else:
                value = self._call(loss, logits, target, {})
            terms[name] = terms[name] + value if name in terms else value
        return terms

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Summed, weighted loss of the task (a scalar); shapes as :meth:`loss_terms`."""
        return sum(self.loss_terms(logits, target).values())

    def _check_runnable(self, loss: nn.Module, logits: Tensor) -> None:
        """Known failures of mmseg decode losses, raised before they happen."""
        if logits.shape[1] == 1 and isinstance(loss, _KNOWN_LABEL_MAP_LOSSES) and \
                not _reads_one_logit(loss):
            raise ValueError(
                f'Task {self.task!r}: {type(loss).__name__} needs one logit channel per class '
                '(2 for a two-class task) but the head has 1; one foreground logit works '
                "with CrossEntropyLoss(use_sigmoid=True), LovaszLoss(loss_type='binary'), "
                'FocalLoss and BoundaryLoss.')
        if isinstance(loss, FocalLoss) and not logits.is_cuda:
            raise ValueError(
                f'Task {self.task!r}: mmseg\'s FocalLoss only works on CUDA tensors: its CPU '
                'path (py_sigmoid_focal_loss, mmseg 1.2.2) builds a target of the wrong '
                'shape (open-mmlab/mmsegmentation#3249); the logits are on '
                f'{logits.device}.')

    def _call(self, loss, logits: Tensor, target: Tensor, kwargs: dict,
              name: Optional[str] = None) -> Tensor:
        name = name or type(loss).__name__
        try:
            return loss(logits, target, **kwargs)
        except (AssertionError, IndexError, RuntimeError, TypeError, ValueError) as exc:
            given = (f'(N, H, W) int64 class labels (mmseg decode-loss convention), '
                     f'{self.ignore_index} = ignore' if target.dim() == 3 else
                     self.task_kind.target)
            _reraise(exc, f'Task {self.task!r}: {name} failed on logits {tuple(logits.shape)} '
                     f'and target {tuple(target.shape)}, {given}: {exc}')

    def extra_repr(self) -> str:
        return f'task={self.task!r}, ignore_index={self.ignore_index}'


class _SamplerContext:
    """What mmseg's pixel samplers read from their decode head."""

    def __init__(self, losses: nn.ModuleList, ignore_index: int) -> None:
        self.loss_decode = losses
        self.ignore_index = ignore_index
