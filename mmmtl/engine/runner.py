"""MultiTaskRunner: mmengine's Runner with strict, logged checkpoint loading."""
from typing import Any, Callable, List, Tuple, Union

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mmmtl.registry import RUNNERS


@RUNNERS.register_module()
class MultiTaskRunner(Runner):
    """``Runner`` whose ``load_from`` / ``--resume`` / ``tools/test.py`` loading is strict.

    mmengine loads ``load_from`` with ``strict=False``: a checkpoint without
    a task head, or a distillation checkpoint given with the student config,
    would leave layers at their initialisation and only warn on stderr. Here
    every load goes through :func:`mmmtl.apis.inference.load_checkpoint_into`:
    ``student.*`` keys fit the plain student, the weights of a
    ``KDAMDistiller`` go into its student, and a checkpoint that does not fit
    is an error naming the keys, written to the run's log before it is raised.
    """

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = True,
                        revise_keys: List[Tuple[str, str]] = (),
                        ) -> Any:
        """Read ``filename`` and load it into the model strictly; return the checkpoint.

        ``strict`` and ``revise_keys`` are accepted for the ``Runner``
        interface only: loading is always strict, and a DDP ``module.``
        prefix is stripped.
        """
        from mmmtl.apis.inference import load_checkpoint_into
        from mmmtl.utils import read_checkpoint
        model = self.model.module if is_model_wrapper(self.model) else self.model
        try:
            checkpoint = read_checkpoint(str(filename), map_location)
            self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
            load_checkpoint_into(model, checkpoint, str(filename),
                                 getattr(self.cfg, 'filename', None) or '<config>')
        except (FileNotFoundError, ValueError) as error:
            self.logger.error(f'{type(error).__name__}: {error}')
            raise
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
