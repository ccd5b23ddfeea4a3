"""Registries of mmmtl (scope ``mmmtl``), children of mmsegmentation's.

Every mmseg / mmengine module stays reachable from an mmmtl config, and modules
registered here are found by configs that set ``default_scope = 'mmmtl'``, or by
their scoped names (``type='mmmtl.MultiTaskEncoderDecoder'``) in a project that
keeps another default scope (``'mmseg'``). What mmmtl's registries build is
built in mmmtl's scope then, so the parts an mmmtl module builds itself (a
segmentor's decoder, a decoder's heads, their losses) are found by their
unscoped names whatever the default scope.
"""
from typing import Callable

from mmengine.registry import DefaultScope, Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

RUNNERS = Registry('runner', parent=MMSEG_RUNNERS, locations=['mmmtl.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMSEG_RUNNER_CONSTRUCTORS, locations=['mmmtl.engine'])
LOOPS = Registry('loop', parent=MMSEG_LOOPS, locations=['mmmtl.engine'])
HOOKS = Registry('hook', parent=MMSEG_HOOKS, locations=['mmmtl.engine'])

DATASETS = Registry('dataset', parent=MMSEG_DATASETS, locations=['mmmtl.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, locations=['mmmtl.datasets'])
TRANSFORMS = Registry('transform', parent=MMSEG_TRANSFORMS, locations=['mmmtl.datasets'])

MODELS = Registry('model', parent=MMSEG_MODELS, locations=['mmmtl.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMSEG_MODEL_WRAPPERS, locations=['mmmtl.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMSEG_WEIGHT_INITIALIZERS, locations=['mmmtl.models'])
TASK_UTILS = Registry('task util', parent=MMSEG_TASK_UTILS, locations=['mmmtl.models'])

OPTIMIZERS = Registry('optimizer', parent=MMSEG_OPTIMIZERS, locations=['mmmtl.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, locations=['mmmtl.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmmtl.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, locations=['mmmtl.engine'])

METRICS = Registry('metric', parent=MMSEG_METRICS, locations=['mmmtl.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMSEG_EVALUATOR, locations=['mmmtl.evaluation'])

VISUALIZERS = Registry(
    'visualizer', parent=MMSEG_VISUALIZERS, locations=['mmmtl.visualization'])
VISBACKENDS = Registry(
    'vis_backend', parent=MMSEG_VISBACKENDS, locations=['mmmtl.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor', parent=MMSEG_LOG_PROCESSORS, locations=['mmmtl.engine'])



def _build_in_mmmtl_scope(build_func: Callable) -> Callable:
    """``build_func`` run in mmmtl's scope when the default scope does not see mmmtl's
    modules (a scope that is neither ``mmmtl`` nor a child of it, e.g. ``mmseg``)."""

    def build(cfg, *args, registry: Registry, **kwargs):
        current = DefaultScope.get_current_instance()
        foreign = current is not None and registry._search_child(current.scope_name) is None
        with DefaultScope.overwrite_default_scope(registry.scope if foreign else None):
            return build_func(cfg, *args, registry=registry, **kwargs)

    return build


for _registry in (RUNNERS, RUNNER_CONSTRUCTORS, LOOPS, HOOKS, DATASETS, DATA_SAMPLERS,
                  TRANSFORMS, MODELS, MODEL_WRAPPERS, WEIGHT_INITIALIZERS, TASK_UTILS,
                  OPTIMIZERS, OPTIM_WRAPPERS, OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS,
                  METRICS, EVALUATOR, VISUALIZERS, VISBACKENDS, LOG_PROCESSORS):
    _registry.build_func = _build_in_mmmtl_scope(_registry.build_func)
