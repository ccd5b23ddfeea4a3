"""A training run killed (SIGKILL) again and again, at random moments and
inside checkpoint saving, then resumed to its end, ends with the weights,
optimizer and scheduler states of a run that was never interrupted."""
import random
import re
import time
from functools import partial

import pytest

from mmmtl.utils import find_resumable_checkpoint, is_complete_checkpoint

from .forked_train import kill_while_writing, train
from .utils import assert_same_training_state, load_checkpoint, synthetic_options

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'  # max_keep_ckpts=1
ITERS = 6
RANDOM_KILLS = 4

pytestmark = pytest.mark.slow


def train_argv(work_dir, data_root, resume: bool) -> list:
    # a checkpoint every iteration: kills often land near (or in) a save
    return [CONFIG, '--work-dir', str(work_dir), *(['--resume'] if resume else []),
            '--cfg-options', *synthetic_options(data_root, max_iters=ITERS,
                                                checkpoint_interval=1, validate=False)]


def work_dir_state(work_dir) -> str:
    """The checkpoints and the marker a fault left; every checkpoint is complete."""
    checkpoints = sorted(path.name for path in work_dir.glob('iter_*.pth'))
    incomplete = [name for name in checkpoints if not is_complete_checkpoint(
        str(work_dir / name))]
    assert not incomplete, f'truncated checkpoints left behind: {incomplete}'
    resumable = find_resumable_checkpoint(str(work_dir))  # never raises here
    marker = work_dir / 'last_checkpoint'
    named = marker.read_text().split('/')[-1] if marker.exists() else 'none'
    return (f'checkpoints {checkpoints}, last_checkpoint -> {named or "(empty)"}, '
            f'resumable {resumable and resumable.split("/")[-1]}')


def test_killed_at_random_moments_resumes_to_the_uninterrupted_state(synthetic_nyud_root,
                                                                      tmp_path):
    reference, work_dir = tmp_path / 'uninterrupted', tmp_path / 'killed'
    start = time.monotonic()
    assert train(train_argv(reference, synthetic_nyud_root, False),
                 tmp_path / 'uninterrupted.log') == 0
    duration = time.monotonic() - start

    rng = random.Random(26)
    faults = [
        ('SIGKILL halfway through writing iter_3.pth', partial(kill_while_writing, 'iter_3.pth'),
         None),
        ('SIGKILL halfway through writing last_checkpoint (2nd write)',
         partial(kill_while_writing, 'last_checkpoint', 2), None),
    ] + [(f'SIGKILL {delay:.2f} s after the start', None, delay)
         for delay in sorted(rng.uniform(0.2, 0.9) * duration for _ in range(RANDOM_KILLS))]
    table = []
    for index, (fault, inject, kill_after) in enumerate(faults):
        log = tmp_path / f'run{index}.log'
        code = train(train_argv(work_dir, synthetic_nyud_root, True), log, fault=inject,
                     kill_after=kill_after)
        resumed = re.findall(r'resumed epoch: \d+, iter: (\d+)', log.read_text())
        table.append(f'{fault}: exit {code}, resumed from iter {resumed or "-"}; '
                     f'{work_dir_state(work_dir)}')
    log = tmp_path / 'final.log'
    code = train(train_argv(work_dir, synthetic_nyud_root, True), log)
    print('\n'.join(table + [f'final --resume: exit {code}']))
    assert code == 0, log.read_text()[-3000:]
    assert_same_training_state(load_checkpoint(work_dir / f'iter_{ITERS}.pth'),
                               load_checkpoint(reference / f'iter_{ITERS}.pth'))
