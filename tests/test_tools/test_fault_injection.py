"""A training run killed (SIGKILL) again and again, at random moments and
inside checkpoint saving, its last_checkpoint marker damaged as a kill of
mmengine's in-place write leaves it, then resumed to its end, ends with the
weights, optimizer and scheduler states of a run that was never interrupted."""
import random
import re
from functools import partial

import pytest

from mmmtl.utils import find_resumable_checkpoint, is_complete_checkpoint

from .forked_train import kill_while_writing, train
from .utils import assert_same_training_state, load_checkpoint, synthetic_options

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'  # max_keep_ckpts=1
ITERS = 6
RANDOM_KILLS = 4  # two after damaging the marker

pytestmark = pytest.mark.slow


def train_argv(work_dir, data_root, resume: bool) -> list:
    # a checkpoint every iteration: kills often land near (or in) a save
    return [CONFIG, '--work-dir', str(work_dir), *(['--resume'] if resume else []),
            '--cfg-options', *synthetic_options(data_root, max_iters=ITERS,
                                                checkpoint_interval=1, validate=False)]


def empty_marker(work_dir) -> None:
    """last_checkpoint as a kill in mmengine's in-place write of it leaves it."""
    (work_dir / 'last_checkpoint').write_text('')


def marker_names_truncated_checkpoint(work_dir) -> str:
    """The next checkpoint's file cut short, and last_checkpoint naming it."""
    newest = max(work_dir.glob('iter_*.pth'), key=lambda path: int(path.stem[5:]))
    truncated = work_dir / f'iter_{int(newest.stem[5:]) + 1}.pth'
    truncated.write_bytes(newest.read_bytes()[:1000])
    (work_dir / 'last_checkpoint').write_text(str(truncated))
    return truncated.name


def work_dir_state(work_dir, planted) -> str:
    """The checkpoints and the marker a fault left; no checkpoint is truncated
    but one the test ``planted`` (until the run writes that iteration)."""
    checkpoints = sorted(path.name for path in work_dir.glob('iter_*.pth'))
    incomplete = [name for name in checkpoints if not is_complete_checkpoint(
        str(work_dir / name))]
    assert set(incomplete) <= {planted}, f'truncated checkpoints left behind: {incomplete}'
    resumable = find_resumable_checkpoint(str(work_dir))  # never raises here
    marker = work_dir / 'last_checkpoint'
    named = marker.read_text().split('/')[-1] if marker.exists() else 'none'
    return (f'checkpoints {checkpoints}, last_checkpoint -> {named or "(empty)"}, '
            f'resumable {resumable and resumable.split("/")[-1]}')


def test_killed_at_random_moments_resumes_to_the_uninterrupted_state(synthetic_nyud_root,
                                                                      tmp_path):
    reference, work_dir = tmp_path / 'uninterrupted', tmp_path / 'killed'
    assert train(train_argv(reference, synthetic_nyud_root, False),
                 tmp_path / 'uninterrupted.log') == 0

    # random moments after the run's first log line of training (its first
    # iteration takes ~0.3 s on one core, saving a checkpoint ~0.1 s)
    rng = random.Random(26)
    delays = [rng.uniform(0, 1.5) for _ in range(RANDOM_KILLS)]
    faults = [  # (what, damage done before the run, fault in the run, kill after (s))
        ('SIGKILL halfway through writing iter_3.pth', None,
         partial(kill_while_writing, 'iter_3.pth'), None),
        ('SIGKILL halfway through writing last_checkpoint (2nd write)', None,
         partial(kill_while_writing, 'last_checkpoint', 2), None),
        (f'last_checkpoint emptied, SIGKILL {delays[0]:.2f} s into training', empty_marker, None,
         delays[0]),
        (f'last_checkpoint names a truncated checkpoint, SIGKILL {delays[1]:.2f} s into '
         'training',
         marker_names_truncated_checkpoint, None, delays[1]),
    ] + [(f'SIGKILL {delay:.2f} s into training', None, None, delay) for delay in delays[2:]]
    table, planted = [], None
    for index, (fault, damage, inject, kill_after) in enumerate(faults):
        if damage is not None:
            planted = damage(work_dir) or planted
        log = tmp_path / f'run{index}.log'
        code = train(train_argv(work_dir, synthetic_nyud_root, True), log, fault=inject,
                     kill_after=kill_after, kill_after_output='Checkpoints will be saved to')
        resumed = re.findall(r'resumed epoch: \d+, iter: (\d+)', log.read_text())
        table.append(f'{fault}: exit {code}, resumed from iter {resumed or "-"}; '
                     f'{work_dir_state(work_dir, planted)}')
    log = tmp_path / 'final.log'
    code = train(train_argv(work_dir, synthetic_nyud_root, True), log)
    print('\n'.join(table + [f'final --resume: exit {code}']))
    assert code == 0, log.read_text()[-3000:]
    assert not list(work_dir.glob('*.tmp'))  # a killed write's temporary file is cleaned up
    assert_same_training_state(load_checkpoint(work_dir / f'iter_{ITERS}.pth'),
                               load_checkpoint(reference / f'iter_{ITERS}.pth'))
