"""CS / KL / DIST distillation losses against float64 references.

The references build the log-probability matrices row by row with numpy in
float64 and apply the textbook formulas (paper Eq. 4-6, KL, Pearson) to every
row and column of them; they share no code with the losses.
"""
import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mmmtl.models.losses import CSDivergenceLoss, DISTLoss, KLDivergenceLoss
from mmmtl.models.losses.distill import pearson
from mmmtl.models.losses.distill.lines import Lines
from mmmtl.registry import MODELS
from mmmtl.utils.memory import peak_tensor_memory

MODES = ('channel', 'binary', 'spatial')
KINDS = ('cs', 'kl', 'dist')
LOSSES = {'cs': CSDivergenceLoss, 'kl': KLDivergenceLoss, 'dist': DISTLoss}


def build(kind: str, mode: str, **kwargs):
    """The loss of ``kind``; DIST's binary mode has only the intra term."""
    if kind == 'dist' and mode == 'binary':
        kwargs.setdefault('inter_weight', 0.)
    return LOSSES[kind](mode=mode, **kwargs)


# ----------------------------------------------------------------- references
def log_softmax(values: np.ndarray) -> np.ndarray:
    shifted = values - values.max()
    return shifted - np.log(np.exp(shifted).sum())


def logsumexp(values: np.ndarray) -> float:
    peak = values.max()
    return peak + np.log(np.exp(values - peak).sum())


def ref_matrix(logits: np.ndarray, mode: str, tau: float, mask=None) -> np.ndarray:
    """[R, K] log-probabilities, float64; masked pixels are left out (rows) or
    NaN (spatial locations)."""
    logits = logits.astype(np.float64) / tau
    num, channels, height, width = logits.shape
    rows = []
    if mode == 'spatial':
        for n in range(num):
            keep = np.ones(height * width, bool) if mask is None else mask[n].reshape(-1)
            for c in range(channels):
                if keep.any():
                    row = np.full(height * width, np.nan)
                    row[keep] = log_softmax(logits[n, c].reshape(-1)[keep])
                    rows.append(row)
        return np.array(rows).reshape(-1, height * width)
    for n in range(num):
        for y in range(height):
            for x in range(width):
                if mask is not None and not mask[n, y, x]:
                    continue
                if mode == 'binary':
                    value = logits[n, 0, y, x]  # log sigmoid(v), log(1 - sigmoid(v))
                    rows.append([-np.logaddexp(0., -value), -np.logaddexp(0., value)])
                else:
                    rows.append(log_softmax(logits[n, :, y, x]))
    return np.array(rows).reshape(-1, 2 if mode == 'binary' else channels)


def ref_cs(a: np.ndarray, b: np.ndarray) -> float:
    """-log(sum p q / sqrt(sum p^2 sum q^2)) from log p = a, log q = b."""
    keep = ~np.isnan(a)
    a, b = a[keep], b[keep]
    return 0.5 * logsumexp(2 * a) + 0.5 * logsumexp(2 * b) - logsumexp(a + b)


def ref_kl(teacher: np.ndarray, student: np.ndarray) -> float:
    keep = ~np.isnan(teacher)
    return float((np.exp(teacher[keep]) * (teacher[keep] - student[keep])).sum())


def ref_pearson(a: np.ndarray, b: np.ndarray) -> float:
    keep = ~np.isnan(a)
    p, q = np.exp(a[keep] - a[keep].max()), np.exp(b[keep] - b[keep].max())
    if p.size < 2 or p.std() == 0 or q.std() == 0:
        return 0.
    return float(np.corrcoef(p, q)[0, 1])


def lines(matrix: np.ndarray, axis: int):
    """Rows (axis=1) or columns (axis=0) with at least one valid entry."""
    out = matrix if axis == 1 else matrix.T
    return [line for line in out if (~np.isnan(line)).any()]


def ref_terms(kind: str, student: np.ndarray, teacher: np.ndarray, mode: str, tau: float,
              mask=None, inter: bool = True) -> dict:
    ps = ref_matrix(student, mode, tau, mask)
    pt = ref_matrix(teacher, mode, tau, mask)
    if kind == 'kl':
        kl = [ref_kl(t, s) for s, t in zip(ps, pt)]
        return {'kl': tau**2 * np.mean(kl) if kl else 0.}
    terms = {}
    for name, axis in (('inter', 1), ('intra', 0)):
        if name == 'inter' and not inter:
            continue
        pairs = list(zip(lines(ps, axis), lines(pt, axis)))
        if kind == 'cs':
            terms[name] = np.mean([ref_cs(s, t) for s, t in pairs])
        else:
            terms[name] = tau**2 * np.mean([1 - ref_pearson(s, t) for s, t in pairs])
    return terms


def random_logits(mode: str, seed: int, scale: float = 3., shape=(2, 4, 5, 6)):
    gen = torch.Generator().manual_seed(seed)
    num, channels, height, width = shape
    channels = 1 if mode == 'binary' else channels
    return torch.randn(num, channels, height, width, generator=gen) * scale


def random_mask(seed: int, shape=(2, 5, 6)) -> torch.Tensor:
    mask = torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) > 0.4
    mask[1, :, :3] = False  # whole columns of locations invalid in one image
    return mask


def check_terms(out: dict, expected: dict, rel: float = 1e-4, abs: float = 1e-6) -> None:
    assert set(out) == set(expected)
    for name, value in expected.items():
        assert out[name].item() == pytest.approx(value, rel=rel, abs=abs), name


# ------------------------------------------------------------------- values
@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('tau', [0.5, 1.0, 4.0])
def test_matches_float64_reference(kind, mode, tau):
    student = random_logits(mode, seed=1)
    teacher = random_logits(mode, seed=2)
    loss = build(kind, mode, tau=tau)
    out = loss(student, teacher)
    assert all(value.dtype == torch.float32 for value in out.values())
    check_terms(out, ref_terms(kind, student.numpy(), teacher.numpy(), mode, tau,
                               inter=loss.term_names()[0] == 'inter'))


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', MODES)
def test_valid_mask_matches_reference(kind, mode):
    student = random_logits(mode, seed=3)
    teacher = random_logits(mode, seed=4)
    mask = random_mask(5)
    loss = build(kind, mode)
    out = loss(student, teacher, valid_mask=mask)
    check_terms(out, ref_terms(kind, student.numpy(), teacher.numpy(), mode, loss.tau,
                               mask.numpy(), inter='inter' in loss.term_names()))
    # (N, 1, H, W) masks are accepted too.
    again = loss(student, teacher, valid_mask=mask[:, None])
    assert all(torch.equal(again[k], out[k]) for k in out)


@pytest.mark.parametrize('kind', KINDS)
def test_spatial_mask_with_fully_invalid_image(kind):
    student = random_logits('spatial', seed=6).requires_grad_()
    teacher = random_logits('spatial', seed=7)
    mask = torch.ones(2, 5, 6, dtype=torch.bool)
    mask[0] = False  # e.g. an image without any depth
    mask[1, 0] = False
    loss = build(kind, 'spatial')
    out = loss(student, teacher, valid_mask=mask)
    check_terms(out, ref_terms(kind, student.detach().numpy(), teacher.numpy(), 'spatial',
                               loss.tau, mask.numpy()))
    sum(out.values()).backward()
    assert torch.isfinite(student.grad).all()
    assert (student.grad[0] == 0).all()  # masked image gets no gradient
    assert (student.grad[1][:, 0] == 0).all()  # nor masked locations
    assert student.grad[1].abs().max() > 1e-4


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', MODES)
def test_all_pixels_masked_gives_zero_with_zero_gradient(kind, mode):
    student = random_logits(mode, seed=8).requires_grad_()
    loss = build(kind, mode)
    out = loss(student, random_logits(mode, seed=9),
               valid_mask=torch.zeros(2, 5, 6, dtype=torch.bool))
    assert set(out) == set(loss.term_names())
    total = sum(out.values())
    assert all(value.item() == 0. for value in out.values())
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


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('masked', [False, True])
def test_gradients_and_second_derivatives_float64(kind, mode, masked):
    """First and second derivatives are right, masked entries and empty lines
    included (double backward through the masks' ``torch.where``)."""
    student = random_logits(mode, seed=14, shape=(2, 3, 2, 3)).double().requires_grad_()
    teacher = random_logits(mode, seed=15, shape=(2, 3, 2, 3)).double()
    mask = None
    if masked:
        mask = torch.tensor([[[1, 0, 1], [1, 1, 0]], [[0, 0, 0], [0, 1, 1]]], dtype=torch.bool)
    weights = {} if kind == 'kl' else dict(intra_weight=1.3, inter_weight=0.7)
    if kind == 'dist' and mode == 'binary':
        weights['inter_weight'] = 0.
    loss = build(kind, mode, tau=2., **weights)

    def total(logits):
        return sum(loss(logits, teacher, mask).values())

    assert torch.autograd.gradcheck(total, (student, ))
    assert torch.autograd.gradgradcheck(total, (student, ))


# -------------------------------------------------------- numerical safety
@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('tau', [0.1, 1.0, 16.0])
def test_exact_and_finite_at_logits_of_1e4(kind, mode, tau):
    """Logits of magnitude 1e4 in float32: the probabilities are one-hot up to
    e^-1e4, yet every term matches the float64 log-space reference."""
    student = (random_logits(mode, seed=16) * 1e4 / 3.).requires_grad_()
    teacher = random_logits(mode, seed=17) * -1e4 / 3.
    loss = build(kind, mode, tau=tau)
    out = loss(student, teacher)
    check_terms(out, ref_terms(kind, student.detach().numpy(), teacher.numpy(), mode, tau,
                               inter='inter' in loss.term_names()), rel=1e-4, abs=1e-4)
    sum(out.values()).backward()
    assert torch.isfinite(student.grad).all()


@pytest.mark.parametrize('kind', KINDS)
def test_exact_when_float32_probabilities_underflow(kind):
    """Class 0 has probability ~1e-60 at every pixel: its column underflows
    to 0 in float32, yet the intra term of that column must be exact."""
    student = random_logits('channel', seed=18, scale=1.)
    teacher = random_logits('channel', seed=19, scale=1.)
    student[:, 0] -= 140.
    teacher[:, 0] -= 135.
    assert (student.softmax(dim=1)[:, 0] == 0).all()  # underflows in float32
    out = LOSSES[kind](mode='channel', tau=1.0)(student, teacher)
    check_terms(out, ref_terms(kind, student.numpy(), teacher.numpy(), 'channel', 1.0))


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_precision_autocast(kind, mode, dtype):
    """Logits from a half-precision conv under CPU autocast; the loss is float32."""
    conv = torch.nn.Conv2d(3, 1 if mode == 'binary' else 4, 1)
    image = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(20)) * 300.
    teacher = random_logits(mode, seed=20, scale=1e3).to(dtype)
    loss = build(kind, mode)
    with torch.autocast('cpu', dtype=dtype):
        student = conv(image)
        assert student.dtype == dtype
        out = loss(student, teacher)
    total = sum(out.values())
    assert total.dtype == torch.float32 and torch.isfinite(total)
    total.backward()
    assert torch.isfinite(conv.weight.grad).all()
    # Same value as the float32 computation on the same (rounded) logits.
    reference = loss(student.detach().float(), teacher.float())
    for name in out:
        assert out[name].item() == pytest.approx(reference[name].item(), rel=1e-5, abs=1e-6)


class _FailOnSync(TorchDispatchMode):
    """Fails on ops that copy a device value to the host or pick elements by a
    boolean mask (``.item()``, ``bool(tensor)``, boolean indexing)."""
    SYNCING = ('_local_scalar_dense', 'nonzero', 'masked_select', 'item')

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        assert name not in self.SYNCING, f'{name} waits for the device'
        if name.startswith('index'):
            indices = [i for arg in args if isinstance(arg, (list, tuple)) for i in arg]
            assert not any(isinstance(i, torch.Tensor) and i.dtype == torch.bool
                           for i in indices), 'boolean indexing waits for the device'
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('masked', [False, True])
def test_no_host_device_sync(kind, mode, masked):
    student = random_logits(mode, seed=21).requires_grad_()
    teacher = random_logits(mode, seed=22, shape=(2, 4, 3, 3))  # resized too
    mask = random_mask(23) if masked else None
    loss = build(kind, mode)
    with _FailOnSync():
        sum(loss(student, teacher, mask).values()).backward()
    assert torch.isfinite(student.grad).all()


def test_cs_loss_peak_memory_in_logits_tensors():
    """Forward and backward of a semseg-like CS loss, the logits' gradient
    included: the plain formula keeps about eight tensors of the logits' size
    (8.05x measured); a regression guard, not a target."""
    student = random_logits('channel', seed=27, shape=(2, 40, 32, 48)).requires_grad_()
    teacher = random_logits('channel', seed=28, shape=(2, 40, 32, 48))
    loss = CSDivergenceLoss()
    peak = peak_tensor_memory(lambda: sum(loss(student, teacher).values()).backward(),
                              torch.device('cpu'))
    assert student.grad is not None
    assert peak <= 9 * student.numel() * student.element_size()


def test_cs_losses_before_one_backward():
    """Several CS losses (one module twice, as for auxiliary outputs, and
    another of a larger map) run their forwards, then one backward, twice
    (retain_graph): values and gradients equal those of each loss on its own."""
    semseg = CSDivergenceLoss(mode='channel', tau=2.)
    depth = CSDivergenceLoss(mode='spatial')
    inputs = [(semseg, random_logits('channel', seed=s, shape=(2, 6, 8, 9))) for s in (40, 41)]
    inputs.append((depth, random_logits('spatial', seed=42, shape=(2, 1, 8, 9))))
    inputs.append((semseg, random_logits('channel', seed=43, shape=(2, 6, 4, 5))))
    teachers = [random_logits('channel', seed=44, shape=logits.shape) for _, logits in inputs]
    expected = []
    for (loss, logits), teacher in zip(inputs, teachers):
        student = logits.clone().requires_grad_()
        out = loss(student, teacher)
        sum(out.values()).backward()
        expected.append(({k: v.item() for k, v in out.items()}, student.grad))
    students = [logits.clone().requires_grad_() for _, logits in inputs]
    outs = [loss(student, teacher)
            for (loss, _), student, teacher in zip(inputs, students, teachers)]
    total = sum(sum(out.values()) for out in outs)
    for repeat in range(2):
        total.backward(retain_graph=repeat == 0)
        for out, student, (terms, grad) in zip(outs, students, expected):
            assert {k: v.item() for k, v in out.items()} == terms
            torch.testing.assert_close(student.grad, (repeat + 1) * grad)


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
    dist = MODELS.build(dict(type='DISTLoss', mode='binary', inter_weight=0.))
    assert (cs.mode, cs.tau, cs.ignore_invalid, cs.global_batch) == ('spatial', 1.0, False,
                                                                      True)
    assert kl.tau == 3.0  # the paper's plain-KD temperature
    assert dist.mode == 'binary' and dist.tau == 1.0 and dist.term_names() == ('intra', )


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


@pytest.mark.parametrize('kind', KINDS)
def test_channel_mode_on_one_channel_is_refused(kind):
    with pytest.raises(ValueError, match=r"mode='channel' on 1-channel logits distils nothing"
                       r".*mode='binary'.*mode='spatial'"):
        LOSSES[kind](mode='channel')(torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3))


def test_dist_binary_inter_term_is_refused():
    """[s, 1-s] rows correlate to +-1 with zero gradient: no inter term there."""
    with pytest.raises(ValueError, match=r"DISTLoss: mode='binary' has no inter term.*"
                       r"inter_weight=0.*mode='spatial'"):
        DISTLoss(mode='binary')
    # What it would be: the sign agreement, without gradient.
    student = random_logits('binary', seed=25).double().requires_grad_()
    teacher = random_logits('binary', seed=26).double()
    rows = Lines((1, ), None, None)
    log_p, log_q = (torch.nn.functional.logsigmoid(torch.cat([x, -x], 1).flatten(2))
                    for x in (student, teacher))
    correlation = pearson(log_p, log_q, rows)
    agreement = torch.sign(student.detach() * teacher).flatten(2)
    torch.testing.assert_close(correlation, agreement)
    correlation.sum().backward()
    assert student.grad.abs().max() < 1e-12
