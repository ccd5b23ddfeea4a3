"""A CheckpointHook after which a kill or a full disk at any moment loses nothing."""
import glob
import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from mmmtl.registry import HOOKS
from mmmtl.utils.fileio import TEMP_SUFFIX, atomic_write

from ..atomic_local_backend import AtomicLocalBackend  # noqa: F401 (registers it)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`mmengine.hooks.CheckpointHook` that never leaves the work
    directory without a complete checkpoint.

    mmengine 0.10.7 deletes the oldest kept checkpoint *before* writing the
    new one, and writes both the checkpoint and ``last_checkpoint`` in place,
    so a kill while saving (or a full disk) with ``max_keep_ckpts=1`` leaves
    no usable checkpoint and an empty or dangling marker. Here, in order:

    1. the checkpoint is written to a temporary file in the same directory,
       flushed to disk and renamed to ``iter_<n>.pth`` (backend
       ``atomic_local``, used for local directories unless ``backend_args``
       says otherwise); a failed write raises an error naming the file;
    2. ``last_checkpoint`` is replaced the same way;
    3. only then are checkpoints beyond ``max_keep_ckpts`` deleted.

    Temporary files of a run killed mid-write are deleted when training
    (re)starts. Arguments are those of ``CheckpointHook``.
    """

    def before_train(self, runner) -> None:
        out_dir = self.out_dir or runner.work_dir
        if self.backend_args is None and self.file_client_args is None and '://' not in out_dir:
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        if is_main_process() and isinstance(self.file_backend, AtomicLocalBackend):
            for directory, name in ((self.out_dir, '*.pth'), (runner.work_dir, 'last_checkpoint')):
                for stale in glob.glob(osp.join(glob.escape(directory), f'{name}.*{TEMP_SUFFIX}')):
                    os.remove(stale)

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        outdated = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids
                                            and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        for old_step in outdated:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):  # deepspeed checkpoints are directories
                self.file_backend.rmtree(path)
