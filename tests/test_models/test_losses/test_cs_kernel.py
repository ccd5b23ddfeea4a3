"""The compiled CPU kernel of CSDivergenceLoss against float64 references.

The reference is the loss's log-space path in float64 (itself checked against
numpy in test_distill_losses.py); the kernel runs in float32.
"""
import os

import pytest
import torch

from mmmtl.models.losses import CSDivergenceLoss, cs_kernel

needs_kernel = pytest.mark.skipif(not cs_kernel.kernel_built(),
                                  reason='CS kernel not built (MMMTL_WITH_OPS=0)')

# (mode, (N, C, H, W)): odd sizes leave partial vectors and blocks; 300 pixels
# per map span two blocks of the channel layout.
CASES = [
    ('channel', (2, 5, 7, 9)),
    ('channel', (1, 40, 15, 20)),
    ('binary', (3, 1, 5, 11)),
    ('spatial', (2, 3, 7, 9)),
    ('spatial', (1, 1, 33, 65)),
]


def logits(shape, seed, scale=3.):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scale


def reference(loss, student, teacher):
    """Values and student gradient of the float64 log-space path."""
    student = student.double().requires_grad_()
    everything = torch.ones(student.shape[0], *student.shape[2:], dtype=torch.bool)
    terms = loss(student, teacher.double(), valid_mask=everything)
    (grad, ) = torch.autograd.grad(sum(terms.values()), student)
    return {name: value.item() for name, value in terms.items()}, grad


def kernel_run(loss, student, teacher):
    student = student.clone().requires_grad_()
    terms = loss(student, teacher)
    (grad, ) = torch.autograd.grad(sum(terms.values()), student)
    return {name: value.item() for name, value in terms.items()}, grad


def test_kernel_is_built():
    """The install builds the kernel (unless told not to): a silent fallback
    would cost the speed the benchmarks promise."""
    if os.getenv('MMMTL_WITH_OPS', '1') == '0':
        pytest.skip('built without ops on purpose')
    assert cs_kernel.kernel_built()


@needs_kernel
@pytest.mark.parametrize('mode,shape', CASES)
@pytest.mark.parametrize('tau', [1.0, 2.5])
def test_kernel_matches_float64_reference(mode, shape, tau):
    student, teacher = logits(shape, 1), logits(shape, 2)
    loss = CSDivergenceLoss(mode=mode, tau=tau, inter_weight=0.7, intra_weight=1.3)
    assert cs_kernel.use_kernel(student, teacher)
    values, grad = kernel_run(loss, student, teacher)
    expected_values, expected_grad = reference(loss, student, teacher)
    for name, value in expected_values.items():
        assert values[name] == pytest.approx(value, rel=2e-6, abs=5e-7), name
    torch.testing.assert_close(grad.double(), expected_grad, rtol=0,
                               atol=2e-5 * expected_grad.abs().max().item())
    assert expected_grad.abs().max() > 1e-5


@needs_kernel
@pytest.mark.parametrize('mode,shape', CASES[:1] + CASES[3:4])
def test_kernel_matches_torch_path(mode, shape, monkeypatch):
    student, teacher = logits(shape, 3), logits(shape, 4)
    loss = CSDivergenceLoss(mode=mode)
    values, grad = kernel_run(loss, student, teacher)
    monkeypatch.setenv('MMMTL_CS_KERNEL', '0')
    assert not cs_kernel.use_kernel(student, teacher)
    torch_values, torch_grad = kernel_run(loss, student, teacher)
    for name in values:
        assert values[name] == pytest.approx(torch_values[name], rel=1e-5)
    torch.testing.assert_close(grad, torch_grad, rtol=1e-4, atol=1e-4 * grad.abs().max().item())


@needs_kernel
@pytest.mark.parametrize('weights', [(1.0, 0.0), (0.0, 1.0)])
def test_kernel_single_term_gradient(weights):
    """Inter-only / intra-only: the unused term's gradient arrives as None."""
    shape = (2, 4, 6, 10)
    student, teacher = logits(shape, 5), logits(shape, 6)
    loss = CSDivergenceLoss(mode='channel', inter_weight=weights[0], intra_weight=weights[1])
    values, grad = kernel_run(loss, student, teacher)
    expected_values, expected_grad = reference(loss, student, teacher)
    assert set(values) == set(expected_values) and len(values) == 1
    torch.testing.assert_close(grad.double(), expected_grad, rtol=0,
                               atol=2e-5 * expected_grad.abs().max().item())


@needs_kernel
@pytest.mark.parametrize('mode,channels', [('channel', 6), ('binary', 1), ('spatial', 6)])
def test_kernel_does_not_depend_on_thread_count(mode, channels):
    shape = (3, channels, 20, 30)
    student, teacher = logits(shape, 7), logits(shape, 8)
    loss = CSDivergenceLoss(mode=mode)
    threads = torch.get_num_threads()
    results = []
    try:
        for count in (1, 2, 3):
            torch.set_num_threads(count)
            results.append(kernel_run(loss, student, teacher))
    finally:
        torch.set_num_threads(threads)
    for values, grad in results[1:]:
        assert values == results[0][0]
        assert torch.equal(grad, results[0][1])


@needs_kernel
def test_kernel_hands_underflow_to_log_space():
    """Sums below the float32-safe limit: the kernel declines (None) and the
    loss still returns the exact value through the log-space path."""
    shape = (2, 3, 4, 5)
    student = logits(shape, 9) * 300.
    teacher = -logits(shape, 10) * 300.
    flat = (student.reshape(2, 3, -1), teacher.reshape(2, 3, -1))
    assert cs_kernel.cs_terms(*flat, class_dim=1, tau=1.0, safe_sum=1e-25) is None
    loss = CSDivergenceLoss(mode='channel')
    values, grad = kernel_run(loss, student, teacher)
    expected_values, _ = reference(loss, student, teacher)
    for name, value in expected_values.items():
        assert values[name] == pytest.approx(value, rel=1e-5)
    assert torch.isfinite(grad).all()


@needs_kernel
@pytest.mark.parametrize('mode,channels', [('channel', 3), ('binary', 1), ('spatial', 3)])
def test_kernel_propagates_nan(mode, channels):
    """A NaN logit must not turn into a finite, wrong loss."""
    student, teacher = logits((1, channels, 4, 5), 11), logits((1, channels, 4, 5), 12)
    student[0, channels // 2, 2, 3] = float('nan')
    terms = CSDivergenceLoss(mode=mode)(student, teacher)
    assert all(torch.isnan(value) for value in terms.values())


@needs_kernel
def test_kernel_takes_non_contiguous_and_resized_teacher():
    student = logits((2, 4, 8, 10), 13)
    teacher = logits((2, 10, 8, 4), 14).permute(0, 3, 2, 1)  # non-contiguous (2, 4, 8, 10)
    small_teacher = logits((2, 4, 4, 5), 15)
    loss = CSDivergenceLoss(mode='channel')
    for other in (teacher, small_teacher):
        values, _ = kernel_run(loss, student, other)
        expected_values, _ = reference(loss, student, other)
        for name, value in expected_values.items():
            assert values[name] == pytest.approx(value, rel=2e-6)


@needs_kernel
def test_kernel_gives_no_gradient_to_the_teacher():
    student = logits((2, 3, 4, 5), 16).requires_grad_()
    teacher = logits((2, 3, 4, 5), 17).requires_grad_()
    sum(CSDivergenceLoss(mode='channel')(student, teacher).values()).backward()
    assert student.grad is not None and teacher.grad is None


@needs_kernel
@pytest.mark.parametrize('isa', cs_kernel.available_isas())
@pytest.mark.parametrize('mode,shape', CASES)
def test_every_instruction_set_matches_float64_reference(isa, mode, shape):
    """Each build of the workers that this CPU runs (AVX-512, AVX2, baseline)
    gives the reference values and gradient in every mode."""
    student, teacher = logits(shape, 18), logits(shape, 19)
    loss = CSDivergenceLoss(mode=mode, tau=1.5, inter_weight=0.6, intra_weight=1.4)
    previous = cs_kernel.use_isa(isa)
    try:
        assert cs_kernel.isa() == isa
        values, grad = kernel_run(loss, student, teacher)
    finally:
        cs_kernel.use_isa(previous)
    expected_values, expected_grad = reference(loss, student, teacher)
    for name, value in expected_values.items():
        assert values[name] == pytest.approx(value, rel=2e-6, abs=5e-7), (isa, name)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=0,
                               atol=2e-5 * expected_grad.abs().max().item())


@needs_kernel
def test_use_isa_rejects_an_unknown_instruction_set():
    with pytest.raises(RuntimeError, match='sse9'):
        cs_kernel.use_isa('sse9')
    assert cs_kernel.isa() == cs_kernel.available_isas()[0]
