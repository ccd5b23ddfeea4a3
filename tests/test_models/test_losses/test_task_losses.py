"""Task losses against straightforward float64 references with masks."""
import math

import pytest
import torch

from mmmtl.models.losses import (
    BalancedBinaryCrossEntropyLoss,
    BalancedCrossEntropyLoss,
    DepthL1Loss,
    MultiTaskCrossEntropyLoss,
    NormalL1Loss,
    UncertaintyWeighting,
)


def _labels(shape, num_classes, seed, ignore_fraction=0.2):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, num_classes, shape, generator=gen)
    target[torch.rand(shape, generator=gen) < ignore_fraction] = 255
    return target


def test_cross_entropy_matches_loop_reference():
    logits = torch.randn(2, 5, 4, 6, dtype=torch.float64)
    target = _labels((2, 1, 4, 6), 5, seed=0)
    total, count = 0., 0
    for n in range(2):
        for i in range(4):
            for j in range(6):
                t = int(target[n, 0, i, j])
                if t == 255:
                    continue
                row = logits[n, :, i, j]
                total += -(row[t].item() - math.log(sum(math.exp(v) for v in row.tolist())))
                count += 1
    loss = MultiTaskCrossEntropyLoss(loss_weight=2.0)(logits, target)
    assert loss.item() == pytest.approx(2.0 * total / count, rel=1e-10)


def test_cross_entropy_all_ignored_is_zero_with_gradient():
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss = MultiTaskCrossEntropyLoss()(logits, torch.full((1, 1, 2, 2), 255))
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(logits.grad).all()


def test_cross_entropy_rejects_label_out_of_range():
    with pytest.raises(ValueError, match='label 7 is outside'):
        MultiTaskCrossEntropyLoss()(torch.randn(1, 3, 2, 2), torch.full((1, 1, 2, 2), 7))


def test_depth_l1_ignores_invalid_pixels():
    pred = torch.randn(2, 1, 3, 3, dtype=torch.float64)
    target = torch.rand(2, 1, 3, 3, dtype=torch.float64) * 5
    target[0, 0, 0, 0] = 0  # missing depth
    target[1, 0, 2, 2] = float('nan')
    valid = [(pred[idx] - target[idx]).abs().item() for idx in
             [(n, 0, i, j) for n in range(2) for i in range(3) for j in range(3)]
             if target[idx] > 0]
    loss = DepthL1Loss(loss_weight=1.0)(pred, target)
    assert loss.item() == pytest.approx(sum(valid) / len(valid), rel=1e-10)


def test_normal_l1_normalises_prediction_and_masks_invalid():
    pred = torch.randn(1, 3, 2, 3, dtype=torch.float64)
    target = torch.nn.functional.normalize(torch.randn(1, 3, 2, 3, dtype=torch.float64), dim=1)
    target[0, :, 1, 2] = 0
    terms = []
    for i in range(2):
        for j in range(3):
            t = target[0, :, i, j]
            if t.abs().sum() == 0:
                continue
            p = pred[0, :, i, j] / pred[0, :, i, j].norm()
            terms.append((p - t).abs().sum().item())
    loss = NormalL1Loss(loss_weight=10.0)(pred, target)
    assert loss.item() == pytest.approx(10.0 * sum(terms) / len(terms), rel=1e-10)


def test_balanced_bce_matches_reference():
    logits = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    target = _labels((1, 1, 4, 4), 2, seed=3)
    w = 0.95
    terms = []
    for i in range(4):
        for j in range(4):
            t = int(target[0, 0, i, j])
            if t == 255:
                continue
            p = 1 / (1 + math.exp(-logits[0, 0, i, j].item()))
            terms.append(-(w * math.log(p)) if t == 1 else -((1 - w) * math.log(1 - p)))
    loss = BalancedBinaryCrossEntropyLoss(pos_weight=w, loss_weight=50.)(logits, target)
    assert loss.item() == pytest.approx(50. * sum(terms) / len(terms), rel=1e-10)


def test_balanced_saliency_ce_two_channels_auto_weight():
    logits = torch.randn(1, 2, 3, 4, dtype=torch.float64)
    target = _labels((1, 1, 3, 4), 2, seed=4)
    valid = target != 255
    w = 1 - ((target == 1) & valid).sum().item() / valid.sum().item()
    log_p = torch.log_softmax(logits, dim=1)
    terms = []
    for i in range(3):
        for j in range(4):
            t = int(target[0, 0, i, j])
            if t != 255:
                terms.append(-(w * log_p[0, 1, i, j]) if t == 1 else -((1 - w) * log_p[0, 0, i, j]))
    loss = BalancedCrossEntropyLoss(loss_weight=5.)(logits, target)
    assert loss.item() == pytest.approx(5. * float(sum(terms)) / len(terms), rel=1e-10)


def test_uncertainty_weighting_starts_at_fixed_weights_and_learns():
    weighting = UncertaintyWeighting(['semseg', 'depth'])
    losses = {'semseg': torch.tensor(2.0), 'depth': torch.tensor(0.5)}
    out = weighting(losses)
    assert out['semseg'].item() == pytest.approx(2.0)
    sum(out.values()).backward()
    # d/ds (exp(-s) L + s) at s=0 = 1 - L
    assert weighting.log_vars['semseg'].grad.item() == pytest.approx(1 - 2.0)
    assert weighting.log_vars['depth'].grad.item() == pytest.approx(1 - 0.5)
