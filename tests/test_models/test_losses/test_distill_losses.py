"""CS / KL / DIST distillation losses against float64 references.

The references build the probability matrices pixel by pixel with numpy in
float64 and apply the textbook formulas line by line; they share no code with
the log-space implementation.
"""
import math

import numpy as np
import pytest
import torch

from mmmtl.models.losses import CSDivergenceLoss, DISTLoss, KLDivergenceLoss
from mmmtl.models.losses.cs_divergence_loss import log_cs_divergence
from mmmtl.models.losses.distill_utils import log_prob_matrix, valid_mask_from_gt
from mmmtl.registry import MODELS

MODES = ('channel', 'binary', 'spatial')


# ----------------------------------------------------------------- references
def ref_matrix(logits: np.ndarray, mode: str, tau: float, mask=None) -> np.ndarray:
    """[R, K] probabilities, float64; masked spatial entries are NaN."""
    logits = logits.astype(np.float64) / tau
    num, channels, height, width = logits.shape
    rows = []
    if mode == 'spatial':
        for n in range(num):
            for c in range(channels):
                values = logits[n, c].reshape(-1)
                keep = np.ones_like(values, bool) if mask is None else mask[n].reshape(-1)
                if not keep.any():
                    continue
                exp = np.where(keep, np.exp(values - values[keep].max()), 0.)
                prob = exp / exp.sum()
                rows.append(np.where(keep, prob, np.nan))
        return np.array(rows)
    for n in range(num):
        for y in range(height):
            for x in range(width):
                if mask is not None and not mask[n, y, x]:
                    continue
                if mode == 'binary':
                    sig = 1. / (1. + math.exp(-logits[n, 0, y, x]))
                    rows.append([sig, 1. - sig])
                else:
                    exp = np.exp(logits[n, :, y, x] - logits[n, :, y, x].max())
                    rows.append(exp / exp.sum())
    return np.array(rows)


def ref_cs(p: np.ndarray, q: np.ndarray) -> float:
    keep = ~np.isnan(p)
    p, q = p[keep], q[keep]
    return -math.log((p * q).sum() / math.sqrt((p * p).sum() * (q * q).sum()))


def ref_kl(p_teacher: np.ndarray, p_student: np.ndarray) -> float:
    total = 0.
    for pt, ps in zip(p_teacher, p_student):
        if not np.isnan(pt) and pt > 0:
            total += pt * (math.log(pt) - math.log(ps))
    return total


def ref_pearson(p: np.ndarray, q: np.ndarray) -> float:
    keep = ~np.isnan(p)
    return float(np.corrcoef(p[keep], q[keep])[0, 1])


def lines(matrix: np.ndarray, axis: int):
    """Rows (axis=1) or columns (axis=0) with at least one valid entry."""
    out = matrix if axis == 1 else matrix.T
    return [line for line in out if (~np.isnan(line)).any()]


def ref_terms(kind: str, student: np.ndarray, teacher: np.ndarray, mode: str, tau: float,
              mask=None) -> dict:
    ps = ref_matrix(student, mode, tau, mask)
    pt = ref_matrix(teacher, mode, tau, mask)
    if kind == 'kl':
        return {'kl': tau**2 * np.mean([ref_kl(t, s) for s, t in zip(ps, pt)])}
    terms = {}
    for name, axis in (('inter', 1), ('intra', 0)):
        pairs = list(zip(lines(ps, axis), lines(pt, axis)))
        if kind == 'cs':
            terms[name] = np.mean([ref_cs(s, t) for s, t in pairs])
        else:
            terms[name] = tau**2 * (1 - np.mean([ref_pearson(s, t) for s, t in pairs]))
    return terms


LOSSES = {'cs': CSDivergenceLoss, 'kl': KLDivergenceLoss, 'dist': DISTLoss}


def random_logits(mode: str, seed: int, scale: float = 3., shape=(2, 4, 5, 6)):
    gen = torch.Generator().manual_seed(seed)
    num, channels, height, width = shape
    channels = 1 if mode == 'binary' else channels
    return torch.randn(num, channels, height, width, generator=gen) * scale


# ------------------------------------------------------------------- values
@pytest.mark.parametrize('kind', ['cs', 'kl', 'dist'])
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('tau', [0.5, 1.0, 4.0])
def test_matches_float64_reference(kind, mode, tau):
    student = random_logits(mode, seed=1)
    teacher = random_logits(mode, seed=2)
    loss = LOSSES[kind](mode=mode, tau=tau)
    out = loss(student, teacher)
    expected = ref_terms(kind, student.numpy(), teacher.numpy(), mode, tau)
    assert set(out) == set(expected)
    for name, value in expected.items():
        assert out[name].dtype == torch.float32
        assert out[name].item() == pytest.approx(value, rel=1e-4, abs=1e-6), name


@pytest.mark.parametrize('kind', ['cs', 'kl', 'dist'])
@pytest.mark.parametrize('mode', MODES)
def test_valid_mask_matches_reference(kind, mode):
    student = random_logits(mode, seed=3)
    teacher = random_logits(mode, seed=4)
    mask = torch.rand(2, 5, 6, generator=torch.Generator().manual_seed(5)) > 0.4
    mask[1, :, :3] = False  # whole columns of locations invalid in one image
    out = LOSSES[kind](mode=mode)(student, teacher, valid_mask=mask)
    expected = ref_terms(kind, student.numpy(), teacher.numpy(), mode,
                         LOSSES[kind](mode=mode).tau, mask.numpy())
    for name, value in expected.items():
        assert out[name].item() == pytest.approx(value, rel=1e-4, abs=1e-6), name
    # (N, 1, H, W) masks are accepted too.
    again = LOSSES[kind](mode=mode)(student, teacher, valid_mask=mask[:, None])
    assert all(torch.equal(again[k], out[k]) for k in out)


@pytest.mark.parametrize('kind', ['cs', 'kl', 'dist'])
def test_spatial_mask_with_fully_invalid_image(kind):
    student = random_logits('spatial', seed=6).requires_grad_()
    teacher = random_logits('spatial', seed=7)
    mask = torch.ones(2, 5, 6, dtype=torch.bool)
    mask[0] = False  # e.g. an image without any depth
    mask[1, 0] = False
    out = LOSSES[kind](mode='spatial')(student, teacher, valid_mask=mask)
    expected = ref_terms(kind, student.detach().numpy(), teacher.numpy(), 'spatial',
                         LOSSES[kind](mode='spatial').tau, mask.numpy())
    for name, value in expected.items():
        assert out[name].item() == pytest.approx(value, rel=1e-4, abs=1e-6), name
    sum(out.values()).backward()
    assert torch.isfinite(student.grad).all()
    assert (student.grad[0] == 0).all()  # masked image gets no gradient


def test_all_pixels_masked_gives_zero_with_graph():
    student = random_logits('channel', seed=8).requires_grad_()
    out = CSDivergenceLoss()(student, random_logits('channel', seed=9),
                             valid_mask=torch.zeros(2, 5, 6, dtype=torch.bool))
    assert set(out) == {'inter', 'intra'}
    total = sum(out.values())
    assert total.item() == 0.
    total.backward()
    assert (student.grad == 0).all()


# ------------------------------------------------------------ CS properties
@pytest.mark.parametrize('mode', MODES)
def test_cs_of_identical_outputs_is_zero(mode):
    logits = random_logits(mode, seed=10, scale=5.)
    out = CSDivergenceLoss(mode=mode, tau=0.7)(logits, logits.clone())
    for value in out.values():
        assert abs(value.item()) < 1e-6


@pytest.mark.parametrize('mode', MODES)
def test_cs_is_symmetric_and_positive(mode):
    a, b = random_logits(mode, seed=11), random_logits(mode, seed=12)
    loss = CSDivergenceLoss(mode=mode)
    ab, ba = loss(a, b), loss(b, a)
    for name in ('inter', 'intra'):
        assert ab[name].item() == pytest.approx(ba[name].item(), rel=1e-5)
        assert ab[name].item() > 0


def test_cs_is_scale_invariant():
    gen = torch.Generator().manual_seed(13)
    p = torch.rand(7, 5, generator=gen, dtype=torch.float64) + 0.01
    q = torch.rand(7, 5, generator=gen, dtype=torch.float64) + 0.01
    base = log_cs_divergence(p.log(), q.log(), dim=1)
    scaled = log_cs_divergence((p * 1e-30).log(), (q * 17.).log(), dim=1)
    torch.testing.assert_close(scaled, base, rtol=1e-10, atol=1e-12)
    expected = [ref_cs(p[i].numpy(), q[i].numpy()) for i in range(7)]
    torch.testing.assert_close(base, torch.tensor(expected, dtype=torch.float64))
    # Columns: unnormalised, each compared as is.
    expected_cols = [ref_cs(p[:, k].numpy(), q[:, k].numpy()) for k in range(5)]
    torch.testing.assert_close(log_cs_divergence(p.log(), q.log(), dim=0),
                               torch.tensor(expected_cols, dtype=torch.float64))


def test_cs_gradcheck_float64():
    student = random_logits('channel', seed=14, shape=(1, 3, 2, 3)).double().requires_grad_()
    teacher = random_logits('channel', seed=15, shape=(1, 3, 2, 3)).double()
    loss = CSDivergenceLoss(mode='channel', tau=2.)
    assert torch.autograd.gradcheck(lambda s: sum(loss(s, teacher).values()), (student, ))


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('tau', [0.5, 2.0])
def test_cs_fused_path_matches_log_space_path(mode, tau):
    """Unmasked inputs take the fused path with a hand-written backward; an
    all-valid mask forces the log-space autograd path: same values and grads."""
    student = random_logits(mode, seed=24).double().requires_grad_()
    teacher = random_logits(mode, seed=25).double()
    loss = CSDivergenceLoss(mode=mode, tau=tau, inter_weight=0.7, intra_weight=1.3)
    fused = loss(student, teacher)
    (fused_grad, ) = torch.autograd.grad(sum(fused.values()), student)
    everything = torch.ones(2, 5, 6, dtype=torch.bool)
    logspace = loss(student, teacher, valid_mask=everything)
    (logspace_grad, ) = torch.autograd.grad(sum(logspace.values()), student)
    for name in ('inter', 'intra'):
        torch.testing.assert_close(fused[name], logspace[name], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fused_grad, logspace_grad, rtol=1e-10, atol=1e-12)
    assert fused_grad.abs().max() > 1e-4  # not trivially zero
    gradcheck_student = random_logits(mode, seed=26, shape=(1, 3, 2, 3)).double()
    assert torch.autograd.gradcheck(
        lambda s: sum(loss(s, gradcheck_student.flip(0) * 0.5).values()),
        (gradcheck_student.clone().requires_grad_(), ))


# -------------------------------------------------------- numerical safety
@pytest.mark.parametrize('kind', ['cs', 'kl', 'dist'])
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('tau', [0.1, 1.0, 16.0])
def test_finite_at_extreme_logits(kind, mode, tau):
    student = (random_logits(mode, seed=16).sign() * 1e3).requires_grad_()
    teacher = -random_logits(mode, seed=17).sign() * 1e3
    out = LOSSES[kind](mode=mode, tau=tau)(student, teacher)
    total = sum(out.values())
    assert all(torch.isfinite(v) for v in out.values())
    total.backward()
    assert torch.isfinite(student.grad).all()


@pytest.mark.parametrize('kind', ['cs', 'kl', 'dist'])
def test_exact_when_float32_probabilities_underflow(kind):
    """Class 0 has probability ~1e-60 at every pixel: its column underflows
    to 0 in float32, yet the intra term of that column must be exact."""
    student = random_logits('channel', seed=18, scale=1.)
    teacher = random_logits('channel', seed=19, scale=1.)
    student[:, 0] -= 140.
    teacher[:, 0] -= 135.
    assert (student.softmax(dim=1)[:, 0] == 0).all()  # underflows in float32
    out = LOSSES[kind](mode='channel', tau=1.0)(student, teacher)
    expected = ref_terms(kind, student.numpy(), teacher.numpy(), 'channel', 1.0)
    for name, value in expected.items():
        assert out[name].item() == pytest.approx(value, rel=1e-4, abs=1e-6), name


@pytest.mark.parametrize('kind', ['cs', 'kl', 'dist'])
@pytest.mark.parametrize('mode', MODES)
def test_bf16_autocast(kind, mode):
    """Logits produced by a bf16 conv under CPU autocast; loss stays float32."""
    conv = torch.nn.Conv2d(3, 1 if mode == 'binary' else 4, 1)
    image = torch.randn(2, 3, 5, 6) * 300.  # large bf16 logits
    teacher = random_logits(mode, seed=20, scale=1e3).bfloat16()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        student = conv(image)
        assert student.dtype == torch.bfloat16
        out = LOSSES[kind](mode=mode)(student, teacher)
    total = sum(out.values())
    assert total.dtype == torch.float32 and torch.isfinite(total)
    total.backward()
    assert torch.isfinite(conv.weight.grad).all()
    # Same value as the float32 computation on the same (bf16-rounded) logits.
    reference = LOSSES[kind](mode=mode)(student.detach().float(), teacher.float())
    for name in out:
        assert out[name].item() == pytest.approx(reference[name].item(), rel=1e-5, abs=1e-6)


# ------------------------------------------------------------ options/errors
def test_teacher_is_resized_to_student_size():
    student = random_logits('channel', seed=21, shape=(2, 4, 8, 10))
    teacher = random_logits('channel', seed=22, shape=(2, 4, 4, 5))
    resized = torch.nn.functional.interpolate(teacher, size=(8, 10), mode='bilinear',
                                              align_corners=False)
    loss = CSDivergenceLoss()
    out, expected = loss(student, teacher), loss(student, resized)
    assert all(torch.equal(out[k], expected[k]) for k in out)


def test_weights_and_terms():
    student, teacher = random_logits('channel', seed=23), random_logits('channel', seed=24)
    full = CSDivergenceLoss()(student, teacher)
    weighted = CSDivergenceLoss(inter_weight=2., intra_weight=0.5, loss_weight=3.)(
        student, teacher)
    assert weighted['inter'].item() == pytest.approx(6 * full['inter'].item(), rel=1e-6)
    assert weighted['intra'].item() == pytest.approx(1.5 * full['intra'].item(), rel=1e-6)
    assert set(CSDivergenceLoss(intra_weight=0.)(student, teacher)) == {'inter'}
    assert set(DISTLoss(inter_weight=0.)(student, teacher)) == {'intra'}
    kl = KLDivergenceLoss(loss_weight=2.)(student, teacher)['kl']
    assert kl.item() == pytest.approx(2 * KLDivergenceLoss()(student, teacher)['kl'].item())


def test_built_from_registry_with_defaults():
    cs = MODELS.build(dict(type='CSDivergenceLoss', mode='spatial'))
    kl = MODELS.build(dict(type='KLDivergenceLoss'))
    dist = MODELS.build(dict(type='DISTLoss', mode='binary'))
    assert (cs.mode, cs.tau, cs.ignore_invalid) == ('spatial', 1.0, False)
    assert kl.tau == 3.0  # the paper's plain-KD temperature
    assert dist.mode == 'binary' and dist.tau == 1.0


def test_bad_options_and_inputs():
    with pytest.raises(ValueError, match='mode must be one of'):
        CSDivergenceLoss(mode='pixel')
    with pytest.raises(ValueError, match='tau must be > 0'):
        KLDivergenceLoss(tau=0.)
    with pytest.raises(ValueError, match='both 0'):
        CSDivergenceLoss(inter_weight=0., intra_weight=0.)
    with pytest.raises(ValueError, match="mode='binary' needs 1-channel"):
        CSDivergenceLoss(mode='binary')(torch.randn(1, 2, 3, 3), torch.randn(1, 2, 3, 3))
    with pytest.raises(ValueError, match='same batch and channel'):
        CSDivergenceLoss()(torch.randn(1, 3, 3, 3), torch.randn(1, 4, 3, 3))
    with pytest.raises(ValueError, match='valid_mask'):
        CSDivergenceLoss()(torch.randn(2, 3, 3, 3), torch.randn(2, 3, 3, 3),
                           valid_mask=torch.ones(3, 3, 3, dtype=torch.bool))


def test_matrix_shapes():
    logits = torch.randn(2, 3, 4, 5)
    assert log_prob_matrix(logits, 'channel', 1.).shape == (40, 3)
    assert log_prob_matrix(logits[:, :1], 'binary', 1.).shape == (40, 2)
    assert log_prob_matrix(logits, 'spatial', 1.).shape == (6, 20)


def test_valid_mask_from_gt():
    label = torch.tensor([[[[0, 255], [3, 1]]]])
    assert valid_mask_from_gt('semseg', label).tolist() == [[[True, False], [True, True]]]
    assert valid_mask_from_gt('edge', label).tolist() == [[[True, False], [True, True]]]
    depth = torch.tensor([[[[0., 1.5], [float('nan'), 2.]]]])
    assert valid_mask_from_gt('depth', depth).tolist() == [[[False, True], [False, True]]]
    normal = torch.zeros(1, 3, 1, 2)
    normal[0, 2, 0, 1] = 1.
    assert valid_mask_from_gt('normal', normal).tolist() == [[[False, True]]]
