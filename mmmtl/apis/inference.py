"""Build a multi-task model for inference and run it on images.

``init_model`` / ``inference_model`` mirror ``mmseg.apis``: a config (and a
checkpoint) give a model in eval mode with ``model.cfg`` attached, and an image
path or BGR array gives a :class:`MultiTaskDataSample` with ``pred_<field>`` of
every task at the image's own size, through the config's test pipeline.
"""
import copy
import os.path as osp
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch
import torch.nn as nn
from mmcv.transforms import Compose
from mmengine.config import Config, ConfigDict
from mmengine.dataset import pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope

from mmmtl.registry import DATASETS, MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.utils import read_checkpoint, register_all_modules

ImageType = Union[str, Path, np.ndarray]
ImagesType = Union[ImageType, Sequence[ImageType]]
ConfigType = Union[str, Path, Config]

# Prefixes a checkpoint's keys may carry around the multi-task model's own keys.
WRAPPER_PREFIX = 'module.'  # DDP
STUDENT_PREFIX = 'student.'  # KDAMDistiller (its teacher is never saved)
# Test-pipeline steps that read ground truth, which an inference image has not.
ANNOTATION_LOADERS = ('LoadMultiTaskAnnotations', 'LoadAnnotations', 'LoadDepthAnnotation')
IMAGE_LOADERS = ('LoadImageFromFile', 'LoadImageFromNDArray', 'InferencerLoader')


def _load_config(config: ConfigType) -> Config:
    if isinstance(config, (str, Path)):
        if not osp.isfile(str(config)):
            raise FileNotFoundError(f'Config file {str(config)!r} does not exist.')
        return Config.fromfile(str(config))
    if isinstance(config, Config):
        return copy.deepcopy(config)
    raise TypeError(f'config must be a file path or a Config, got {type(config).__name__}.')


def model_config_for_inference(cfg: Config) -> ConfigDict:
    """The config of the network that predicts: the student of a KDAM config.

    A ``KDAMDistiller`` config gives its ``student`` with the distiller's
    ``data_preprocessor``: the teacher is neither built nor loaded, so testing
    and inference do not need it on disk. Any other model config is returned
    as is.
    """
    if 'model' not in cfg:
        raise KeyError(f'Config {cfg.filename!r} has no `model`.')
    model_cfg = copy.deepcopy(cfg.model)
    if model_cfg.get('type') == 'KDAMDistiller':
        from mmmtl.models.distillers.kdam_distiller import student_data_preprocessor
        student = copy.deepcopy(model_cfg['student'])
        student['data_preprocessor'] = student_data_preprocessor(
            student, model_cfg.get('data_preprocessor'))
        model_cfg = student
    model_cfg.pop('pretrained', None)
    return model_cfg


def checkpoint_state_dict(checkpoint: Any, source: str = '<checkpoint>') -> Dict[str, Any]:
    """The multi-task model's state dict inside a loaded checkpoint.

    Accepts mmengine checkpoints (``state_dict``) and bare state dicts, strips a
    DDP ``module.`` prefix, and keeps only the ``student.`` entries (without the
    prefix) of a ``KDAMDistiller`` checkpoint.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state:
        raise ValueError(f'Checkpoint {source!r} holds no state dict.')
    if all(key.startswith(WRAPPER_PREFIX) for key in state):
        state = {key[len(WRAPPER_PREFIX):]: value for key, value in state.items()}
    if any(key.startswith(STUDENT_PREFIX) for key in state):
        state = {
            key[len(STUDENT_PREFIX):]: value
            for key, value in state.items() if key.startswith(STUDENT_PREFIX)
        }
    return state


def load_checkpoint_into(model: nn.Module, checkpoint: dict, filename: str,
                         config_name: str = '<config>') -> None:
    """Load a read ``checkpoint`` into ``model`` strictly.

    The weights go into the multi-task model: ``model`` itself, or the
    student of a ``KDAMDistiller`` (whose state is the student's only). A
    distillation checkpoint (``student.*`` keys) fits the plain student model
    as well as the distiller.

    Raises:
        ValueError: the checkpoint does not fit the model (missing or
            unexpected keys, other shapes), naming the keys and the task heads.
    """
    from mmmtl.models.distillers import KDAMDistiller
    from mmmtl.models.segmentors.multitask_encoder_decoder import upgrade_state_dict
    from mmmtl.models.utils import state_dict_problems
    target = model.student if isinstance(model, KDAMDistiller) else model
    state = checkpoint_state_dict(checkpoint, filename)
    upgrade_state_dict(state)  # checkpoints written before decoders existed
    expected = target.state_dict()
    problems = state_dict_problems(expected, state)
    if problems:
        heads = [
            sorted({key.split('.')[2] for key in keys if key.startswith('decoder.task_heads.')})
            for keys in (state, expected)
        ]
        if heads[0] != heads[1]:
            problems.append(f'the checkpoint has task heads {heads[0]}, the config {heads[1]}')
        raise ValueError(f'Checkpoint {filename!r} does not fit the model of {config_name!r} '
                         f'({type(target).__name__}): ' + '; '.join(problems))
    target.load_state_dict(state, strict=True)


def load_model_checkpoint(model: nn.Module, filename: str,
                          config_name: str = '<config>') -> dict:
    """Load ``filename`` into ``model`` strictly; return the checkpoint's ``meta``.

    See :func:`read_checkpoint` and :func:`load_checkpoint_into`.
    """
    checkpoint = read_checkpoint(filename)
    load_checkpoint_into(model, checkpoint, filename, config_name)
    return dict(checkpoint.get('meta') or {})


def _dataset_meta(cfg: Config, checkpoint_meta: dict) -> dict:
    """Classes / palettes: the checkpoint's ``dataset_meta``, else the test dataset's."""
    if checkpoint_meta.get('dataset_meta'):
        return dict(checkpoint_meta['dataset_meta'])
    dataset_cfg = cfg.get('test_dataloader', {}).get('dataset', {})
    dataset_cls = DATASETS.get(dataset_cfg.get('type')) if dataset_cfg.get('type') else None
    return copy.deepcopy(dict(getattr(dataset_cls, 'METAINFO', None) or {}))


def init_model(config: ConfigType,
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a multi-task model from a config and load its checkpoint.

    For a KDAM config the student is built (no teacher); distillation
    checkpoints (``student.*`` keys) and ones written by
    ``tools/model_converters/extract_student.py`` both load. Pretrained
    backbone weights are never fetched: without a checkpoint the weights are
    PyTorch's default initialisation.

    Args:
        config: Config file path or :class:`Config`.
        checkpoint: Checkpoint file (or URL); None for an untrained model.
        device: Device of the model, e.g. ``'cpu'`` or ``'cuda:0'``.
        cfg_options: Overrides merged into the config.

    Returns:
        The model in eval mode, with ``cfg`` (the full config), ``tasks`` and
        ``dataset_meta`` (classes and palettes) attached.
    """
    cfg = _load_config(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    register_all_modules(init_default_scope=False)
    init_default_scope(cfg.get('default_scope', 'mmmtl'))
    model_cfg = model_config_for_inference(cfg)
    model = MODELS.build(model_cfg)
    for attr in ('tasks', 'forward_tasks'):
        if not hasattr(model, attr):
            raise TypeError(f'The model of {cfg.filename!r} ({type(model).__name__}) has no '
                            f'`{attr}`; init_model needs a multi-task model such as '
                            'MultiTaskEncoderDecoder.')
    meta = {}
    if checkpoint is not None:
        meta = load_model_checkpoint(model, str(checkpoint), cfg.filename or '<config>')
    if torch.device(device).type == 'cpu':  # SyncBN needs a process group
        model = revert_sync_batchnorm(model)
    model.cfg = cfg
    model.dataset_meta = _dataset_meta(cfg, meta)
    model.to(device)
    model.eval()
    return model


class _LoadImage:
    """Read an image path or take an (H, W, 3) BGR array into ``results``."""

    def __init__(self, color_type: str = 'color', imdecode_backend: str = 'cv2',
                 to_float32: bool = False) -> None:
        self.color_type = color_type
        self.imdecode_backend = imdecode_backend
        self.to_float32 = to_float32

    def __call__(self, image: ImageType) -> dict:
        if isinstance(image, Path):
            image = str(image)
        if isinstance(image, str):
            if not osp.isfile(image):
                raise FileNotFoundError(f'Image {image!r} does not exist.')
            with open(image, 'rb') as handle:
                img = mmcv.imfrombytes(handle.read(), flag=self.color_type,
                                       backend=self.imdecode_backend)
            if img is None:
                raise ValueError(f'Image {image!r} cannot be decoded (not an image file?).')
            img_path = image
        elif isinstance(image, np.ndarray):
            if image.ndim != 3 or image.shape[2] != 3:
                raise ValueError('An image array must be (H, W, 3) BGR, got shape '
                                 f'{tuple(image.shape)}.')
            img, img_path = image, None
        else:
            raise TypeError('An image must be a file path or an (H, W, 3) BGR array, got '
                            f'{type(image).__name__}.')
        if self.to_float32:
            img = img.astype(np.float32)
        return dict(img=img, img_path=img_path, img_shape=img.shape[:2],
                    ori_shape=img.shape[:2])


class InferencePipeline:
    """The config's test pipeline for bare images: path / array -> packed inputs.

    Annotation loading is dropped and the image loader accepts a path or an
    array; ``tasks`` is put into the sample's meta so the data sample knows
    the model's tasks.

    Args:
        cfg: The model's config (``test_dataloader.dataset.pipeline``, or
            ``test_pipeline``).
        tasks: The model's tasks.
    """

    def __init__(self, cfg: Config, tasks: Sequence[str]) -> None:
        pipeline_cfg = self._pipeline_config(cfg)
        steps = [copy.deepcopy(step) for step in pipeline_cfg
                 if step.get('type') not in ANNOTATION_LOADERS]
        loaders = [i for i, step in enumerate(steps) if step.get('type') in IMAGE_LOADERS]
        if not loaders or loaders[0] != 0:
            raise ValueError(f'The test pipeline of {cfg.filename!r} must start by loading '
                             f'the image ({" or ".join(IMAGE_LOADERS[:2])}), got '
                             f'{[step.get("type") for step in pipeline_cfg]}.')
        loader_cfg = steps.pop(0)
        self.loader = _LoadImage(**{
            key: loader_cfg[key] for key in ('color_type', 'imdecode_backend', 'to_float32')
            if key in loader_cfg
        })
        self.transforms = Compose(steps)
        self.tasks = list(tasks)

    @staticmethod
    def _pipeline_config(cfg: Config) -> List[dict]:
        dataset = cfg.get('test_dataloader', {}).get('dataset', {})
        pipeline = dataset.get('pipeline') or cfg.get('test_pipeline')
        if not pipeline:
            raise KeyError(f'Config {cfg.filename!r} has no test pipeline '
                           '(test_dataloader.dataset.pipeline or test_pipeline).')
        return list(pipeline)

    def __call__(self, image: ImageType, **meta) -> dict:
        """Return ``dict(inputs=(3, H, W) tensor, data_samples=sample)``.

        ``meta`` (e.g. ``sample_id``) is added to the sample's meta info.
        """
        results = self.loader(image)
        results['tasks'] = self.tasks
        packed = self.transforms(results)
        if packed is None:
            raise RuntimeError(f'The test pipeline dropped the image {results["img_path"]!r}.')
        packed['data_samples'].set_metainfo(dict(tasks=self.tasks, **meta))
        return packed


def _check_inference_model(model: nn.Module) -> None:
    if getattr(model, 'cfg', None) is None:
        raise AttributeError('inference_model needs model.cfg; build the model with '
                             'mmmtl.apis.init_model.')


@contextmanager
def logits_output(model: nn.Module, enabled: Optional[bool]) -> Iterator[None]:
    """Within the block, ``model.test_cfg.output_logits`` is ``enabled``.

    None leaves the model's own setting; the setting is restored after.
    """
    if enabled is None:
        yield
        return
    test_cfg = getattr(model, 'test_cfg', None)
    if test_cfg is None:
        raise AttributeError(f'{type(model).__name__} has no test_cfg to ask for logits.')
    before = test_cfg.get('output_logits', False)
    test_cfg['output_logits'] = bool(enabled)
    try:
        yield
    finally:
        test_cfg['output_logits'] = before


def inference_model(model: nn.Module, img: ImagesType, output_logits: Optional[bool] = None
                    ) -> Union[MultiTaskDataSample, List[MultiTaskDataSample]]:
    """Predict every task of a model on one image or a list of images.

    Args:
        model: A model from :func:`init_model`.
        img: An image path or an (H, W, 3) BGR uint8 array, or a list of them
            (images of a list may differ in size).
        output_logits: Also return every task's raw logits; None follows
            ``model.test_cfg.output_logits`` (off unless the config sets it).

    Returns:
        A :class:`MultiTaskDataSample` (a list for a list input) holding
        ``pred_<field>`` of every task at the image's size: class maps
        (1, H, W) for semseg / human parts, depth (1, H, W) in metres, unit
        normals (3, H, W), probabilities (1, H, W) for edge / saliency; with
        logits also ``<field>_logits`` (C_task, H, W), resized as the
        prediction (``get_task_spec(task).task_kind.soft`` turns them into
        probabilities, depth or unit normals).
    """
    is_batch = isinstance(img, (list, tuple))
    images = list(img) if is_batch else [img]
    if not images:
        raise ValueError('inference_model got an empty list of images.')
    _check_inference_model(model)
    pipeline = InferencePipeline(model.cfg, model.tasks)
    data = pseudo_collate([pipeline(image) for image in images])
    with torch.no_grad(), logits_output(model, output_logits):
        results = model.test_step(data)
    return results if is_batch else results[0]
