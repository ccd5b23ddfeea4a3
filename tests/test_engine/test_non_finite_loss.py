"""A NaN loss stops training before anything non-finite is checkpointed; the
opt-out skips such updates and leaves the model as if the batch had not been there."""
import pytest
import torch
from toy_training import toy_batches, toy_runner

from mmmtl.engine.hooks import NonFiniteLossHook


def test_nan_loss_stops_before_a_non_finite_checkpoint(tmp_path):
    runner = toy_runner(tmp_path, toy_batches(5, nan_at=[3]))
    with pytest.raises(FloatingPointError, match=r'iteration 3: loss_toy=nan, loss_other=nan'):
        runner.train()
    assert sorted(p.name for p in tmp_path.glob('*.pth')) == ['iter_2.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_2.pth')
    state = torch.load(tmp_path / 'iter_2.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(value).all() for value in state.values())


def test_non_finite_weights_are_never_checkpointed():
    checkpoint = dict(state_dict={'a.weight': torch.ones(2),
                                  'b.bias': torch.tensor([0., float('inf')])})

    class FakeRunner:
        iter = 6
    with pytest.raises(FloatingPointError, match=r'Iteration 7: .*b\.bias holds NaN or inf'):
        NonFiniteLossHook().before_save_checkpoint(FakeRunner(), checkpoint)


def test_skip_opt_out_leaves_the_model_as_without_the_bad_batch(tmp_path):
    """SkipNonFiniteOptimWrapper: the NaN iteration changes neither the weights,
    nor the BatchNorm statistics, nor the optimizer's momenta."""
    batches = toy_batches(5, nan_at=[3])
    skipping = toy_runner(tmp_path / 'skip', batches, optim_type='SkipNonFiniteOptimWrapper')
    skipping.train()
    assert skipping.optim_wrapper.skipped_updates == 1
    reference = toy_runner(tmp_path / 'ref', batches[:4] + batches[6:])  # without iteration 3
    reference.train()
    for key, value in reference.model.state_dict().items():
        assert torch.equal(skipping.model.state_dict()[key], value), key
    ours, theirs = (r.optim_wrapper.optimizer.state_dict()['state'] for r in (skipping, reference))
    for index in theirs:
        assert torch.equal(ours[index]['momentum_buffer'], theirs[index]['momentum_buffer'])
    # the skipped iteration still counts, and the checkpoints are finite
    assert skipping.iter == 5 and reference.iter == 4
    state = torch.load(tmp_path / 'skip' / 'iter_5.pth', weights_only=True)['state_dict']
    assert all(torch.isfinite(value).all() for value in state.values())


def test_skip_opt_out_gives_up_when_every_update_is_non_finite(tmp_path):
    runner = toy_runner(tmp_path, toy_batches(6, nan_at=[2, 3, 4, 5]),
                        optim_type='SkipNonFiniteOptimWrapper',
                        optim_args=dict(max_consecutive_skips=3))
    with pytest.raises(FloatingPointError, match=r'Iteration 4: 3 updates in a row'):
        runner.train()


def _skip_on_rank(rank: int, port: int, results) -> None:
    import torch.distributed as dist
    from mmengine.optim import build_optim_wrapper
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=2)
    model = torch.nn.Linear(2, 1)
    wrapper = build_optim_wrapper(model, dict(type='SkipNonFiniteOptimWrapper',
                                              optimizer=dict(type='SGD', lr=0.1)))
    before = model.weight.detach().clone()
    loss = model(torch.ones(1, 2)).sum() * (float('nan') if rank == 0 else 1.)
    wrapper.update_params(loss)
    results.put((rank, wrapper.skipped_updates, torch.equal(model.weight, before)))
    dist.destroy_process_group()


def test_skip_opt_out_skips_on_every_rank_when_one_rank_must():
    """Rank 0's loss is NaN, rank 1's is finite: both skip, or the ranks' weights
    would drift apart."""
    import multiprocessing

    from test_tools.utils import free_port
    context = multiprocessing.get_context('fork')
    results, port = context.Queue(), free_port()
    ranks = [context.Process(target=_skip_on_rank, args=(rank, port, results))
             for rank in range(2)]
    for process in ranks:
        process.start()
    for process in ranks:
        process.join(60)
    assert sorted(results.get(timeout=5) for _ in ranks) == [(0, 1, True), (1, 1, True)]
