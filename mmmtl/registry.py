"""Registries of mmmtl (scope ``mmmtl``), children of mmsegmentation's.

Every mmseg / mmengine module stays reachable from an mmmtl config, and modules
registered here are found by configs that set ``default_scope = 'mmmtl'``, or by
their scoped names (``type='mmmtl.MultiTaskEncoderDecoder'``) in a project that
keeps another default scope (``'mmseg'``): every module registered here is
constructed in mmmtl's scope, so the parts it builds itself (a segmentor's
data preprocessor, decoder, heads and losses, a dataset's transforms) are found
by their unscoped names whatever the default scope.
"""
import functools
import inspect
from typing import Optional

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


class ScopedRegistry(Registry):
    """A registry whose classes are constructed in its scope (see the module docstring)
    unless the default scope already is it or one of its children."""

    def _register_module(self, module, module_name=None, force: bool = False) -> None:
        if inspect.isclass(module):
            construct_in_scope(module, self)
        super()._register_module(module, module_name, force)


def _scope_to_enter(registry: Registry) -> Optional[str]:
    """``registry``'s scope if the default scope does not see its modules, else None."""
    current = DefaultScope.get_current_instance()
    if current is not None and registry._search_child(current.scope_name) is not None:
        return None
    return registry.scope


def construct_in_scope(cls: type, registry: Registry) -> type:
    """Wrap ``cls.__init__`` so that what it builds resolves in ``registry``'s scope."""
    init = cls.__init__
    if getattr(init, 'mmmtl_scoped', False):  # inherited from a registered class
        return cls

    @functools.wraps(init)
    def __init__(self, *args, **kwargs) -> None:
        with DefaultScope.overwrite_default_scope(_scope_to_enter(registry)):
            init(self, *args, **kwargs)

    __init__.mmmtl_scoped = True
    cls.__init__ = __init__
    return cls


# A runner sets the default scope itself (from its config's ``default_scope``), and
# loops are built by the runner: they are not constructed in mmmtl's scope.
RUNNERS = Registry('runner', parent=MMSEG_RUNNERS, locations=['mmmtl.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMSEG_RUNNER_CONSTRUCTORS, locations=['mmmtl.engine'])
LOOPS = Registry('loop', parent=MMSEG_LOOPS, locations=['mmmtl.engine'])
HOOKS = ScopedRegistry('hook', parent=MMSEG_HOOKS, locations=['mmmtl.engine'])

DATASETS = ScopedRegistry('dataset', parent=MMSEG_DATASETS, locations=['mmmtl.datasets'])
DATA_SAMPLERS = ScopedRegistry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, locations=['mmmtl.datasets'])
TRANSFORMS = ScopedRegistry('transform', parent=MMSEG_TRANSFORMS, locations=['mmmtl.datasets'])

MODELS = ScopedRegistry('model', parent=MMSEG_MODELS, locations=['mmmtl.models'])
MODEL_WRAPPERS = ScopedRegistry(
    'model_wrapper', parent=MMSEG_MODEL_WRAPPERS, locations=['mmmtl.models'])
WEIGHT_INITIALIZERS = ScopedRegistry(
    'weight initializer', parent=MMSEG_WEIGHT_INITIALIZERS, locations=['mmmtl.models'])
TASK_UTILS = ScopedRegistry('task util', parent=MMSEG_TASK_UTILS, locations=['mmmtl.models'])

OPTIMIZERS = ScopedRegistry('optimizer', parent=MMSEG_OPTIMIZERS, locations=['mmmtl.engine'])
OPTIM_WRAPPERS = ScopedRegistry(
    'optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, locations=['mmmtl.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = ScopedRegistry(
    'optimizer wrapper constructor', parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmmtl.engine'])
PARAM_SCHEDULERS = ScopedRegistry(
    'parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, locations=['mmmtl.engine'])

METRICS = ScopedRegistry('metric', parent=MMSEG_METRICS, locations=['mmmtl.evaluation'])
EVALUATOR = ScopedRegistry('evaluator', parent=MMSEG_EVALUATOR, locations=['mmmtl.evaluation'])

VISUALIZERS = ScopedRegistry(
    'visualizer', parent=MMSEG_VISUALIZERS, locations=['mmmtl.visualization'])
VISBACKENDS = ScopedRegistry(
    'vis_backend', parent=MMSEG_VISBACKENDS, locations=['mmmtl.visualization'])
LOG_PROCESSORS = ScopedRegistry(
    'log_processor', parent=MMSEG_LOG_PROCESSORS, locations=['mmmtl.engine'])
