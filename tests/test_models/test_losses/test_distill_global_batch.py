"""Distillation losses under DDP span the global batch (paper Eq. 5-6).

Two gloo processes with 2 images each, a 1x1 conv as the student wrapped in
DistributedDataParallel: every term and the conv's gradients after DDP's
averaging equal those of one process on the 4 images, for every loss, mode
and mask. With ``global_batch=False`` each rank keeps its own images.
"""
import itertools
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel

from mmmtl.models.losses import CSDivergenceLoss, DISTLoss, KLDivergenceLoss

WORLD_SIZE = 2
NUM, HEIGHT, WIDTH = 4, 5, 6
LOSSES = {'cs': CSDivergenceLoss, 'kl': KLDivergenceLoss, 'dist': DISTLoss}
MASKS = (None, 'partial', 'rank0_empty')
GLOBAL_CASES = list(itertools.product(LOSSES, ('channel', 'binary', 'spatial'), MASKS))
PER_RANK_CASES = list(itertools.product(LOSSES, ('channel', 'spatial'), ('partial', )))


def make_mask(kind):
    if kind is None:
        return None
    gen = torch.Generator().manual_seed(3)
    mask = torch.rand(NUM, HEIGHT, WIDTH, generator=gen) > 0.3
    if kind == 'rank0_empty':  # nothing valid on rank 0: its rows and columns are empty
        mask[:2] = False
    else:
        mask[0] = False  # an image without valid pixels
        mask[:, 0, 0] = False  # a location invalid in every image
        mask[:2, 0, 1] = False  # ... and one valid on rank 1 only
        mask[2:, 0, 1] = True
    return mask


def run_case(kind, mode, mask_kind, global_batch=True, rank=None):
    """Terms and conv gradients, on all images (rank None) or on ``rank``'s
    half (inside DDP if a process group is initialised)."""
    gen = torch.Generator().manual_seed(0)
    channels = 1 if mode == 'binary' else 4
    images = torch.randn(NUM, 3, HEIGHT, WIDTH, generator=gen, dtype=torch.float64)
    teacher = 3 * torch.randn(NUM, channels, HEIGHT, WIDTH, generator=gen,
                              dtype=torch.float64)
    conv = torch.nn.Conv2d(3, channels, 1).double()
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 2)
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=gen))
    mask = make_mask(mask_kind)
    student = conv
    if rank is not None:
        half = slice(rank * NUM // WORLD_SIZE, (rank + 1) * NUM // WORLD_SIZE)
        images, teacher = images[half], teacher[half]
        mask = None if mask is None else mask[half]
        if dist.is_initialized():
            student = DistributedDataParallel(conv)
    extra = dict(inter_weight=0.) if kind == 'dist' and mode == 'binary' else {}
    loss = LOSSES[kind](mode=mode, global_batch=global_batch, **extra)
    terms = loss(student(images), teacher, mask)
    sum(terms.values()).backward()
    return ({name: value.item() for name, value in terms.items()},
            [param.grad.tolist() for param in conv.parameters()])


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _worker(rank, port, queue):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group('gloo', rank=rank, world_size=WORLD_SIZE)
    try:
        results = {case: run_case(*case, rank=rank) for case in GLOBAL_CASES}
        results.update({case + (False, ): run_case(*case, global_batch=False, rank=rank)
                        for case in PER_RANK_CASES})
        queue.put((rank, results))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope='module')
def ddp_results():
    """{rank: {case: (terms, grads)}} of one 2-process run."""
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    mp.spawn(_worker, args=(_free_port(), queue), nprocs=WORLD_SIZE, join=True)
    return dict(queue.get(timeout=60) for _ in range(WORLD_SIZE))


def assert_grads_close(actual, expected):
    for got, want in zip(actual, expected):
        torch.testing.assert_close(torch.tensor(got, dtype=torch.float64),
                                   torch.tensor(want, dtype=torch.float64), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('kind,mode,mask', GLOBAL_CASES)
def test_ddp_equals_one_process_on_the_global_batch(ddp_results, kind, mode, mask):
    terms, grads = run_case(kind, mode, mask)
    assert any(abs(g) > 1e-6 for g in torch.tensor(grads[0]).flatten().tolist())
    for rank in range(WORLD_SIZE):
        rank_terms, rank_grads = ddp_results[rank][(kind, mode, mask)]
        assert rank_terms.keys() == terms.keys()
        for name, value in terms.items():  # every rank logs the global value
            assert rank_terms[name] == pytest.approx(value, rel=1e-10, abs=1e-12), name
        assert_grads_close(rank_grads, grads)  # after DDP's average over the ranks


@pytest.mark.parametrize('kind,mode,mask', PER_RANK_CASES)
def test_global_batch_false_keeps_each_ranks_images(ddp_results, kind, mode, mask):
    per_rank = [ddp_results[rank][(kind, mode, mask, False)] for rank in range(WORLD_SIZE)]
    local = [run_case(kind, mode, mask, rank=rank) for rank in range(WORLD_SIZE)]
    for (terms, _), (expected, _) in zip(per_rank, local):
        for name, value in expected.items():
            assert terms[name] == pytest.approx(value, rel=1e-10, abs=1e-12), name
    assert per_rank[0][0] != per_rank[1][0]
    average = [((torch.tensor(a, dtype=torch.float64) + torch.tensor(b, dtype=torch.float64))
                / 2).tolist() for a, b in zip(local[0][1], local[1][1])]
    assert_grads_close(per_rank[0][1], average)
