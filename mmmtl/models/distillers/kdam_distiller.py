import os
import os.path as osp
from typing import Dict, List, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.model import BaseModel, revert_sync_batchnorm
from torch import Tensor

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import get_task_spec
from mmmtl.utils.checkpoint import find_resumable_checkpoint, read_checkpoint

from ..segmentors.multitask_encoder_decoder import upgrade_state_dict
from ..utils import state_dict_problems
from .teacher_cache import cached_teacher_outputs, check_cache_manifest, teacher_identity

# Data-preprocessor settings that must agree between the teacher's training
# config and the distiller: both networks see the same normalised batch.
SHARED_PREPROCESSING = ('mean', 'std', 'bgr_to_rgb', 'rgb_to_bgr')


def _missing_path_message(what: str, path: str) -> str:
    return (f'KDAMDistiller: {what} {path!r} does not exist (looked for '
            f'{osp.abspath(path)}; a relative path is relative to the working directory, '
            'as data_root and load_from).')


def teacher_model_cfg(teacher_cfg: Union[str, dict, Config]) -> dict:
    """The teacher's model config from ``teacher_cfg``.

    Args:
        teacher_cfg: The teacher's config file (its ``model`` is the teacher;
            relative paths are relative to the working directory, like every
            OpenMMLab path), a loaded :class:`~mmengine.config.Config` or a
            config dict with a ``model``, or the teacher's model config itself
            (a dict with a ``type``).
    """
    if isinstance(teacher_cfg, (str, os.PathLike)):
        path = os.fspath(teacher_cfg)
        if not osp.isfile(path):
            raise FileNotFoundError(_missing_path_message('teacher_cfg', path))
        teacher_cfg = Config.fromfile(path)
    if isinstance(teacher_cfg, Config):
        if 'model' not in teacher_cfg:
            raise KeyError(f'KDAMDistiller: teacher_cfg {teacher_cfg.filename!r} has no `model`.')
        return teacher_cfg.model
    if isinstance(teacher_cfg, dict):
        if 'type' in teacher_cfg:
            return teacher_cfg
        if 'model' in teacher_cfg:
            return teacher_cfg['model']
        raise KeyError('KDAMDistiller: teacher_cfg is a dict with neither `type` (a model '
                       f'config) nor `model` (a full config): keys {sorted(teacher_cfg)}.')
    raise TypeError('KDAMDistiller: teacher_cfg must be a config file path, a Config or a '
                    f'dict, got {type(teacher_cfg).__name__}.')


def _uses_sync_bn(cfg) -> bool:
    """Some part of the model config ``cfg`` normalises with SyncBN."""
    if isinstance(cfg, dict):
        return cfg.get('type') in ('SyncBN', 'MMSyncBN') or any(map(_uses_sync_bn, cfg.values()))
    if isinstance(cfg, (list, tuple)):
        return any(map(_uses_sync_bn, cfg))
    return False


def _train_command(teacher_cfg: str) -> str:
    """The command that trains the teacher of ``teacher_cfg`` as its recipe runs:
    the paper's 8 GPUs for a SyncBN model, one process for a CPU-sized one."""
    if _uses_sync_bn(teacher_model_cfg(teacher_cfg)):
        return f'bash tools/dist_train.sh {teacher_cfg} 8'
    return f'python tools/train.py {teacher_cfg}'


def _last_checkpoint(work_dir: str) -> str:
    """The newest complete checkpoint of the teacher's ``work_dir`` (the one
    ``last_checkpoint`` names, unless it is missing or incomplete)."""
    ckpt = find_resumable_checkpoint(work_dir)
    if ckpt is None:
        raise FileNotFoundError(
            f'KDAMDistiller: teacher_ckpt {work_dir!r} is a directory without a complete '
            'checkpoint (no last_checkpoint, no iter_*.pth); train the teacher there first or '
            'give the checkpoint file.')
    return ckpt


def student_data_preprocessor(student: dict, data_preprocessor: Optional[dict]
                               ) -> Optional[dict]:
    """The preprocessor of a distiller whose student config is ``student``.

    ``data_preprocessor`` (the distiller's) defaults to the student's. Both given
    and different is an error: one of them would be ignored without a word.
    """
    own = student.get('data_preprocessor')
    if data_preprocessor is None or own is None:
        return data_preprocessor if data_preprocessor is not None else own
    if dict(own) != dict(data_preprocessor):
        differing = sorted(key for key in set(own) | set(data_preprocessor)
                           if own.get(key) != data_preprocessor.get(key))
        raise ValueError(
            'KDAMDistiller: model.data_preprocessor and model.student.data_preprocessor '
            f'differ in {differing} (distiller: {[data_preprocessor.get(k) for k in differing]}, '
            f'student: {[own.get(k) for k in differing]}); the distiller preprocesses the batch '
            'for both networks, so set only one of them (the student\'s is the default).')
    return data_preprocessor


def build_frozen_teacher(teacher_cfg: Union[str, dict, Config], teacher_ckpt: Optional[str],
                         allow_untrained: bool = False) -> nn.Module:
    """The teacher of ``teacher_cfg`` with ``teacher_ckpt`` loaded, frozen and in eval mode.

    Arguments as :class:`KDAMDistiller`'s.
    """
    # The teacher never trains, so SyncBN would only need a process group.
    teacher = revert_sync_batchnorm(MODELS.build(teacher_model_cfg(teacher_cfg)))
    KDAMDistiller._load_teacher(
        teacher, teacher_ckpt, allow_untrained,
        teacher_cfg if isinstance(teacher_cfg, (str, os.PathLike)) else None)
    teacher.requires_grad_(False)
    return teacher.eval()


def resolve_teacher_ckpt(teacher_ckpt: Optional[str]) -> Optional[str]:
    """The checkpoint file of ``teacher_ckpt`` (a work dir names it in last_checkpoint)."""
    if teacher_ckpt is not None and osp.isdir(teacher_ckpt):
        return _last_checkpoint(teacher_ckpt)
    return teacher_ckpt


def _for_task(task: str, fn, *args):
    """``fn(*args)``; a ValueError names the distilled ``task``."""
    try:
        return fn(*args)
    except ValueError as error:
        raise ValueError(f'KDAMDistiller: distill_losses[{task!r}]: {error}') from error


@MODELS.register_module()
class KDAMDistiller(BaseModel):
    """A multi-task student distilled from a frozen multi-task teacher (KDAM).

    ``L = alpha * L_mt + beta * sum_n w_n * sum_terms distill_losses[n]``:
    :meth:`loss` returns ``loss_<task>`` (alpha-scaled task losses of the
    student) and ``loss_kd_<task>_<term>`` (beta * w_n-scaled terms of each
    distillation loss, e.g. ``inter`` / ``intra`` for the CS loss).

    The teacher is frozen (``requires_grad=False``), always in eval mode and
    run under ``torch.no_grad()`` once per step. It is deliberately kept
    *outside* the module tree: ``parameters()`` (hence the optimizer and
    DDP), ``state_dict()`` (hence checkpoints), ``train()`` and
    ``init_weights()`` only see the student, while ``to()`` / ``cuda()`` /
    ``half()`` (all through ``_apply``) move the teacher along.
    ``predict`` and ``tensor`` modes run the student only.

    Args:
        student: Config of the student, a multi-task segmentor with
            ``forward_tasks`` / ``loss_by_task_logits`` / ``predict``.
        teacher_cfg: The teacher: the path of its own training config (whose
            ``model`` is the teacher), a loaded config, or its model config
            dict (see :func:`teacher_model_cfg`). Paths are relative to the
            working directory, as ``data_root`` / ``load_from``.
        teacher_ckpt: Checkpoint of the trained teacher (loaded with
            ``weights_only=True``; keys must fit exactly), or the teacher's
            work dir, whose ``last_checkpoint`` file names it; relative to
            the working directory, like ``teacher_cfg``.
        distill_losses: ``{task: loss config}``, e.g.
            ``dict(semseg=dict(type='CSDivergenceLoss', mode='channel'))``.
            Each task must be a task of teacher and student.
        alpha: Factor on the student's task losses.
        beta: Factor on every distillation term.
        distill_task_weights: ``{task: w_n}``; 1 for unlisted tasks.
        distill_aux: Also distil the student's auxiliary outputs (initial /
            multi-scale predictions of decoders such as ATRC, InvPT), each
            against the teacher's output of the same name or its final logits.
            Only auxiliary outputs may have other channels than the teacher's
            (ATRC's initial depth bins and normal clusters): they are not
            distilled, and the log names them at the first step. The final
            logits of every distilled task must have the teacher's channels
            (:meth:`check_teacher_channels`).
        allow_untrained_teacher: Use a randomly initialised teacher when
            ``teacher_ckpt`` is None or does not exist (tests, benchmarks).
        teacher_cache: Directory of the teacher's outputs on the training
            split, written by ``tools/distill/cache_teacher.py``. The teacher
            is then neither built nor loaded: its outputs come with the data
            samples (``LoadTeacherOutputs`` in the training pipeline), padded
            pixels are left out of the distillation losses, and the cache's
            manifest must match ``teacher_cfg``, the hash of ``teacher_ckpt``,
            the distilled tasks and the student's channels.
        data_preprocessor: Defaults to the student's; giving both with
            different settings is an error.
        init_cfg: Initialisation config of the distiller.
    """

    def __init__(self,
                 student: dict,
                 teacher_cfg: Union[str, dict, Config],
                 teacher_ckpt: Optional[str] = None,
                 distill_losses: Optional[Dict[str, dict]] = None,
                 alpha: float = 1.0,
                 beta: float = 1.0,
                 distill_task_weights: Optional[Dict[str, float]] = None,
                 distill_aux: bool = False,
                 allow_untrained_teacher: bool = False,
                 teacher_cache: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        data_preprocessor = student_data_preprocessor(student, data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.student = MODELS.build(student)
        teacher_model_config = teacher_model_cfg(teacher_cfg)
        self._check_preprocessing(data_preprocessor, teacher_model_config)
        self.teacher_ckpt = teacher_ckpt
        self.teacher_cache = teacher_cache
        teacher_model = None
        if teacher_cache is None:
            teacher_model = build_frozen_teacher(teacher_cfg, teacher_ckpt,
                                                 allow_untrained_teacher)
            self._check_tasks(teacher_model)
        # Outside the module tree on purpose (see the class docstring).
        object.__setattr__(self, '_teacher', teacher_model)

        self.distill_aux = distill_aux
        for name, value in (('alpha', alpha), ('beta', beta),
                            *((f'distill_task_weights[{task!r}]', weight)
                              for task, weight in (distill_task_weights or {}).items())):
            if not value >= 0:  # also refuses NaN
                raise ValueError(f'KDAMDistiller: {name} is {value}; loss factors must be >= 0 '
                                 '(a negative factor maximises its loss).')
        self.alpha = float(alpha)
        self.beta = float(beta)
        distill_losses = distill_losses or {}
        for task in distill_losses:
            if task not in self.student.tasks:
                raise KeyError(f'KDAMDistiller: distill_losses has task {task!r}, which is not a '
                               f'task of the student and teacher ({self.student.tasks}).')
        self.distill_losses = nn.ModuleDict(
            {task: _for_task(task, MODELS.build, cfg) for task, cfg in distill_losses.items()})
        distill_task_weights = dict(distill_task_weights or {})
        for task in distill_task_weights:
            if task not in self.distill_losses:
                raise KeyError(f'KDAMDistiller: distill_task_weights has task {task!r} without '
                               f'a distill loss (distilled tasks: {list(self.distill_losses)}).')
        self.distill_task_weights = {
            task: float(distill_task_weights.get(task, 1.0)) for task in self.distill_losses
        }
        self._skipped_aux: set = set()  # (aux name, task) pairs already logged
        if teacher_model is not None:
            self.check_teacher_channels(teacher_model.task_channels)
        else:  # the manifest holds the teacher's tasks and channels
            ckpt = resolve_teacher_ckpt(teacher_ckpt)
            if not allow_untrained_teacher and (ckpt is None or not osp.isfile(ckpt)):
                raise FileNotFoundError(
                    f'KDAMDistiller: teacher_ckpt {ckpt!r} is not a file; with a teacher_cache '
                    'it is not loaded but its hash is checked against the cache manifest.')
            self._cache_slices = check_cache_manifest(
                teacher_cache,
                teacher_identity(str(teacher_cfg) if isinstance(teacher_cfg, (str, os.PathLike))
                                 else 'a config dict', teacher_model_config, ckpt),
                self.student.task_channels, list(self.distill_losses)).slices

    # ------------------------------------------------------------ building
    @staticmethod
    def _check_preprocessing(data_preprocessor: Optional[dict], teacher_cfg: dict) -> None:
        teacher_pre = teacher_cfg.get('data_preprocessor')
        if not data_preprocessor or not teacher_pre:
            return
        for key in SHARED_PREPROCESSING:
            ours, theirs = data_preprocessor.get(key), teacher_pre.get(key)
            if ours is not None and theirs is not None and list(
                    ours if isinstance(ours, (list, tuple)) else [ours]) != list(
                        theirs if isinstance(theirs, (list, tuple)) else [theirs]):
                raise ValueError(
                    f'KDAMDistiller: data_preprocessor.{key} is {ours!r} but the teacher was '
                    f'trained with {theirs!r}; both networks see the same input batch.')

    def _check_tasks(self, teacher: nn.Module) -> None:
        for name, model in (('student', self.student), ('teacher', teacher)):
            for attr in ('tasks', 'forward_tasks'):
                if not hasattr(model, attr):
                    raise TypeError(f'KDAMDistiller: the {name} ({type(model).__name__}) has no '
                                    f'`{attr}`; use a multi-task segmentor such as '
                                    'MultiTaskEncoderDecoder.')
        student_tasks, teacher_tasks = list(self.student.tasks), list(teacher.tasks)
        if set(student_tasks) != set(teacher_tasks):
            raise ValueError(
                'KDAMDistiller: teacher and student must share the task list; student tasks '
                f'{student_tasks}, teacher tasks {teacher_tasks} (only in the student: '
                f'{sorted(set(student_tasks) - set(teacher_tasks))}, only in the teacher: '
                f'{sorted(set(teacher_tasks) - set(student_tasks))}).')

    def check_teacher_channels(self, teacher_channels: Dict[str, int]) -> None:
        """Raise unless every distilled task's final logits have the teacher's channels.

        Args:
            teacher_channels: ``{task: channels}`` of the teacher's final
                logits (from the teacher model, or from the manifest of cached
                teacher outputs).
        """
        student_channels = self.student.task_channels
        for task in self.distill_losses:
            if task not in teacher_channels:
                raise KeyError(f'KDAMDistiller: the teacher has no output for the distilled task '
                               f'{task!r} (teacher outputs: {sorted(teacher_channels)}).')
            if int(teacher_channels[task]) != student_channels[task]:
                raise ValueError(
                    f'KDAMDistiller: distilled task {task!r}: the teacher outputs '
                    f'{int(teacher_channels[task])} channels, the student '
                    f'{student_channels[task]}; distillation compares them channel by channel, '
                    'so both must predict the same classes / quantity.')

    @staticmethod
    def _load_teacher(teacher: nn.Module, ckpt: Optional[str], allow_untrained: bool,
                      teacher_cfg: Optional[str]) -> None:
        ckpt = resolve_teacher_ckpt(ckpt)
        is_local = ckpt is not None and '://' not in ckpt
        if ckpt is None or (is_local and not osp.isfile(ckpt)):
            if allow_untrained:
                print_log(f'KDAMDistiller: teacher_ckpt {ckpt!r} not available; the teacher '
                          'is untrained (allow_untrained_teacher=True).', logger='current',
                          level=30)
                return
            how = f'train it first ({_train_command(teacher_cfg)}) or ' if teacher_cfg else ''
            if ckpt is None:
                raise ValueError('KDAMDistiller: teacher_ckpt is not set; a KDAM student needs '
                                 f'a trained teacher: {how}set model.teacher_ckpt '
                                 '(allow_untrained_teacher=True is for tests only).')
            advice = f'{how}set model.teacher_ckpt to the trained teacher.'
            raise FileNotFoundError(_missing_path_message('teacher_ckpt', ckpt) + ' ' +
                                    advice[0].upper() + advice[1:])
        checkpoint = read_checkpoint(ckpt)
        state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint,
                                                                       dict) else None
        if not isinstance(state, dict):
            raise ValueError(f'KDAMDistiller: teacher_ckpt {ckpt!r} holds no state dict.')
        for prefix in ('module.', 'student.'):  # DDP-wrapped / distilled teachers
            if state and all(key.startswith(prefix) for key in state):
                state = {key[len(prefix):]: value for key, value in state.items()}
        upgrade_state_dict(state)  # checkpoints written before decoders existed
        expected = teacher.state_dict()
        problems = state_dict_problems(expected, state)
        if problems:
            raise ValueError(f'KDAMDistiller: teacher_ckpt {ckpt!r} does not fit the teacher '
                             f'model {type(teacher).__name__}: ' + '; '.join(problems))
        teacher.load_state_dict(state, strict=True)
        print_log(f'KDAMDistiller: loaded teacher from {ckpt}', logger='current')

    # ------------------------------------------------------------ teacher
    @property
    def teacher(self) -> Optional[nn.Module]:
        """The frozen teacher (not a submodule: not in parameters / state_dict);
        None with a ``teacher_cache``."""
        return self._teacher

    def _apply(self, fn, recurse: bool = True):
        """Move / cast the teacher with the distiller (``to``, ``cuda``, ``half``...)."""
        super()._apply(fn, recurse)
        if self._teacher is not None:
            self._teacher._apply(fn)
        return self

    def train(self, mode: bool = True) -> 'KDAMDistiller':
        """Set the student's mode; the teacher always stays in eval mode."""
        super().train(mode)
        if self._teacher is not None:
            self._teacher.eval()
        return self

    # ------------------------------------------------------------ forward
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[MultiTaskDataSample]] = None,
                mode: str = 'tensor') -> Union[Dict[str, Tensor], List[MultiTaskDataSample]]:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.student.forward_tasks(inputs)
        raise RuntimeError(f'Invalid mode {mode!r}; only "loss", "predict" and "tensor" are '
                           'supported.')

    def teacher_logits(self, inputs: Tensor) -> Dict[str, Tensor]:
        """``{task: (N, C, H, W) logits}`` of the frozen teacher, without grad."""
        return self.teacher_outputs(inputs)[0]

    def teacher_outputs(self, inputs: Tensor, with_aux: bool = False
                        ) -> Tuple[Dict[str, Tensor], Dict[str, Dict[str, Tensor]]]:
        """The teacher's final logits and, when ``with_aux``, its auxiliary
        outputs ``{aux name: {task: logits}}`` (else ``{}``), without grad."""
        if self._teacher is None:
            raise RuntimeError(f'KDAMDistiller: the teacher is not built: its outputs come '
                               f'from the teacher cache {self.teacher_cache!r}.')
        with torch.no_grad():
            if with_aux and hasattr(self._teacher, 'forward_tasks_with_aux'):
                return self._teacher.forward_tasks_with_aux(inputs)
            return self._teacher.forward_tasks(inputs), {}

    def loss(self, inputs: Tensor, data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """Task losses of the student plus the distillation terms.

        The student's auxiliary outputs (deep supervision of decoders such as
        ATRC or InvPT) always get their task losses; with ``distill_aux`` they
        are distilled too, logged as ``loss_kd_<task>_<aux name>_<term>``.

        Args:
            inputs: (N, 3, H, W) preprocessed images.
            data_samples: Samples holding the ``gt_*`` maps of every task.
        """
        if self.teacher_cache is None:
            teacher_logits, teacher_aux = self.teacher_outputs(inputs, with_aux=self.distill_aux)
            teacher_valid = None
        else:
            teacher_logits, teacher_aux, teacher_valid = cached_teacher_outputs(
                data_samples, self._cache_slices, inputs.device)
        student_logits, student_aux = self.student.forward_tasks_with_aux(inputs)
        losses = {
            name: self.alpha * value if name.startswith('loss') and self.alpha != 1 else value
            for name, value in self.student.loss_by_task_logits(
                student_logits, data_samples, student_aux).items()
        }
        valid_masks = {
            task: self._valid_mask(task, data_samples, student_logits[task].device)
            for task, distill_loss in self.distill_losses.items() if distill_loss.ignore_invalid
        }
        if teacher_valid is not None:  # cached maps are not defined on padding
            valid_masks = {task: valid_masks[task] & teacher_valid if task in valid_masks
                           else teacher_valid for task in self.distill_losses}
        pairs = [('', student_logits, teacher_logits)]
        if self.distill_aux:
            # An auxiliary output is matched with the teacher's output of the same
            # name, else with the teacher's final logits.
            pairs += [(f'_{name}', logits, teacher_aux.get(name, teacher_logits))
                      for name, logits in student_aux.items()]
        for suffix, student_outputs, teacher_outputs in pairs:
            for task, distill_loss in self.distill_losses.items():
                if task not in student_outputs:
                    continue  # an auxiliary output of some tasks only (ATRC's guiding tasks)
                if student_outputs[task].shape[1] != teacher_outputs[task].shape[1]:
                    self._skip_aux(suffix, task, student_outputs[task], teacher_outputs[task])
                    continue
                terms = _for_task(task, distill_loss, student_outputs[task],
                                  teacher_outputs[task], valid_masks.get(task))
                weight = self.beta * self.distill_task_weights[task]
                for term, value in terms.items():  # no graph node for a weight of 1
                    losses[f'loss_kd_{task}{suffix}_{term}'] = (value if weight == 1 else
                                                               weight * value)
        return losses

    def _skip_aux(self, suffix: str, task: str, student: Tensor, teacher: Tensor) -> None:
        """Leave out an auxiliary output in another output space (logged once); a
        final output in another space is an error."""
        if not suffix:
            raise ValueError(f'KDAMDistiller: distilled task {task!r}: the teacher outputs '
                             f'{teacher.shape[1]} channels, the student {student.shape[1]}.')
        if (suffix, task) not in self._skipped_aux:
            self._skipped_aux.add((suffix, task))
            print_log(f'KDAMDistiller: the auxiliary output {suffix[1:]!r} of {task!r} '
                      f'({student.shape[1]} channels) is not distilled: the teacher\'s '
                      f'counterpart has {teacher.shape[1]} channels.', logger='current')

    @staticmethod
    def _valid_mask(task: str, data_samples: List[MultiTaskDataSample],
                    device: torch.device) -> Tensor:
        key = get_task_spec(task).gt_key
        for sample in data_samples:
            if key not in sample:
                raise KeyError(f'KDAMDistiller: the distill loss of {task!r} ignores invalid '
                               f'pixels but the sample {sample.metainfo.get("img_path")} has '
                               f'no {key!r}.')
        gt = torch.stack([getattr(sample, key).data for sample in data_samples]).to(device)
        return get_task_spec(task).task_kind.valid_mask(gt)

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[MultiTaskDataSample]] = None
                ) -> List[MultiTaskDataSample]:
        """Predictions of the student only."""
        return self.student.predict(inputs, data_samples)

    def extra_repr(self) -> str:
        teacher = (f'teacher outputs from the cache {self.teacher_cache!r}'
                   if self._teacher is None else f'teacher={type(self._teacher).__name__} '
                   f'(frozen, not a submodule, ckpt={self.teacher_ckpt!r})')
        return (f'{teacher}, alpha={self.alpha}, beta={self.beta}, '
                f'distill_task_weights={self.distill_task_weights}')
