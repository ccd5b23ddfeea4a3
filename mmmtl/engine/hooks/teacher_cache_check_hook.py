"""Refuse to distil from a teacher cache of another training set."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmmtl.models.distillers.teacher_cache import check_cache_dataset
from mmmtl.registry import HOOKS


@HOOKS.register_module()
class TeacherCacheCheckHook(Hook):
    """Before the first step, check that the model's ``teacher_cache`` is of
    the run's training set: same dataset type, root and split (the
    distiller checks teacher, tasks and channels when it is built).

    A model without ``teacher_cache`` is left alone.
    """
    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        cache_dir = getattr(model, 'teacher_cache', None)
        if cache_dir is not None:
            check_cache_dataset(cache_dir, runner.train_dataloader.dataset)
