"""tools/train.py under faults: a diverging run stops with an error naming the
loss term, a stalled rank ends a distributed job with an error naming the rank,
and a schedule that trains nothing is refused."""
import re
from functools import partial

import pytest
import torch

from .forked_train import stall_at, start_train, train
from .utils import free_port, load_checkpoint, synthetic_options

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'


def argv(work_dir, data_root, *options, max_iters=4):
    return [CONFIG, '--work-dir', str(work_dir), '--cfg-options',
            *synthetic_options(data_root, max_iters=max_iters, checkpoint_interval=1,
                               validate=False), *options]


@pytest.mark.slow
def test_diverging_run_stops_before_saving_non_finite_weights(synthetic_nyud_root, tmp_path):
    log = tmp_path / 'train.log'
    code = train(argv(tmp_path, synthetic_nyud_root, 'optim_wrapper.optimizer.lr=1e12',
                      max_iters=6), log)
    output = log.read_text()
    assert code == 1, output[-3000:]
    match = re.search(r'FloatingPointError: Non-finite loss at iteration (\d+): (loss_\w+)=',
                      output)
    assert match, output[-3000:]
    iteration = int(match.group(1))
    assert 1 < iteration <= 6
    # the checkpoint of the iteration before is kept, and it is finite
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == [f'iter_{iteration - 1}.pth']
    state = load_checkpoint(tmp_path / f'iter_{iteration - 1}.pth')['state_dict']
    assert all(torch.isfinite(value).all() for value in state.values())


def test_schedule_without_iterations_is_refused(synthetic_nyud_root, tmp_path):
    log = tmp_path / 'train.log'
    assert train(argv(tmp_path, synthetic_nyud_root, max_iters=0), log) == 1
    assert 'ValueError: train_cfg.max_iters is 0: a run must train at least one iter' in (
        log.read_text())


@pytest.mark.slow
def test_stalled_rank_ends_the_job_with_an_error_naming_it(synthetic_nyud_root, tmp_path):
    """Rank 1 stops answering before iteration 2; rank 0 gives up after the
    configured 5 s instead of waiting forever, and names rank 1."""
    environ = dict(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()), WORLD_SIZE='2')
    options = argv(tmp_path, synthetic_nyud_root, 'env_cfg.dist_cfg.timeout=5',
                   'train_dataloader.batch_size=1') + ['--launcher', 'pytorch']
    ranks = [
        start_train(options, tmp_path / f'rank{rank}.log',
                    dict(environ, RANK=str(rank), LOCAL_RANK=str(rank)),
                    fault=partial(stall_at, 2, 600) if rank == 1 else None)
        for rank in range(2)
    ]
    try:
        ranks[0].join(180)
        output = (tmp_path / 'rank0.log').read_text()
        assert not ranks[0].is_alive(), f'rank 0 still waits after 180 s:\n{output[-3000:]}'
        assert ranks[0].exitcode == 1
        assert ('Rank 0 of 2: a collective operation timed out after 5 s '
                '(env_cfg.dist_cfg.timeout); rank(s) 1 did not reach it (stalled or dead)'
                in output), output[-3000:]
    finally:
        for process in ranks:
            process.kill()
            process.join()
