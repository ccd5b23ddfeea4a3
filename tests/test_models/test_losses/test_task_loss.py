"""TaskLoss: mmseg decode losses on label tasks, mmmtl task losses, and clear errors."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmtl.models.losses import MultiTaskCrossEntropyLoss, TaskLoss
from mmmtl.registry import MODELS


def _labels(shape, num_classes, seed, ignore_fraction=0.25):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, num_classes, shape, generator=gen)
    target[torch.rand(shape, generator=gen) < ignore_fraction] = 255
    return target


def _logits(shape, seed, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=dtype).requires_grad_()


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_mmseg_cross_entropy_on_stacked_labels_matches_reference(avg_non_ignore):
    logits = _logits((2, 5, 6, 7), seed=0)
    target = _labels((2, 1, 6, 7), 5, seed=1)  # as stacked from gt_sem_seg
    loss = TaskLoss('semseg', dict(type='CrossEntropyLoss', avg_non_ignore=avg_non_ignore,
                                   loss_weight=3.0))
    value = loss(logits, target)
    per_pixel = F.cross_entropy(logits, target[:, 0], ignore_index=255, reduction='none')
    valid = (target[:, 0] != 255).sum() if avg_non_ignore else target[:, 0].numel()
    assert value.shape == ()
    # mmseg divides by avg_factor + float32 eps
    assert value.item() == pytest.approx(3.0 * per_pixel.sum().item() / int(valid), rel=1e-7)
    value.backward()
    ignored = (target[:, 0] == 255).unsqueeze(1).expand_as(logits)
    assert torch.all(logits.grad[ignored] == 0) and logits.grad.abs().sum() > 0
    assert loss.loss_names == ['loss_ce']


def test_cross_entropy_avg_non_ignore_equals_multitask_cross_entropy():
    logits = _logits((2, 7, 5, 5), seed=2)
    target = _labels((2, 1, 5, 5), 7, seed=3)
    mmseg_ce = TaskLoss('human_parts', dict(type='CrossEntropyLoss', avg_non_ignore=True))
    ours = TaskLoss('human_parts', dict(type='MultiTaskCrossEntropyLoss'))
    assert mmseg_ce(logits, target).item() == pytest.approx(
        ours(logits, target).item(), rel=1e-7)  # mmseg divides by avg_factor + float32 eps
    assert isinstance(ours.losses[0], MultiTaskCrossEntropyLoss)


def test_list_of_losses_is_summed_like_mmseg_decode_heads():
    logits = _logits((2, 4, 6, 6), seed=4, dtype=torch.float32)  # mmseg's Lovasz: float32
    target = _labels((2, 1, 6, 6), 4, seed=5)
    configs = [
        dict(type='CrossEntropyLoss', avg_non_ignore=True),
        dict(type='DiceLoss', loss_weight=0.5),
        dict(type='LovaszLoss', per_image=True, loss_weight=0.25),
        dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=2.0),  # name loss_ce
    ]
    loss = TaskLoss('semseg', configs)
    labels = target[:, 0]
    direct = [MODELS.build(cfg) for cfg in configs]
    expected = [
        direct[0](logits, labels, weight=None, ignore_index=255),
        direct[1](logits, labels, weight=None, ignore_index=255),
        direct[2](logits, labels, weight=None, ignore_index=255),
        direct[3](logits, labels, weight=None, ignore_index=255),
    ]
    terms = loss.loss_terms(logits, target)
    assert list(terms) == ['loss_ce', 'loss_dice', 'loss_lovasz']
    assert terms['loss_ce'].item() == pytest.approx((expected[0] + expected[3]).item(), rel=1e-6)
    assert terms['loss_dice'].item() == pytest.approx(expected[1].item(), rel=1e-6)
    assert terms['loss_lovasz'].item() == pytest.approx(expected[2].item(), rel=1e-6)
    assert loss(logits, target).item() == pytest.approx(sum(expected).item(), rel=1e-6)
    assert loss.loss_names == ['loss_ce', 'loss_dice', 'loss_lovasz', 'loss_ce']


@pytest.mark.parametrize('cfg', [
    dict(type='DiceLoss'),
    dict(type='LovaszLoss', reduction='none'),
    dict(type='TverskyLoss'),
    dict(type='OhemCrossEntropy', min_kept=10),  # forward(score, target) only
])
def test_other_mmseg_label_losses_train(cfg):
    logits = _logits((2, 4, 8, 8), seed=6, dtype=torch.float32)
    target = _labels((2, 1, 8, 8), 4, seed=7)
    value = TaskLoss('semseg', cfg)(logits, target)
    assert value.shape == () and torch.isfinite(value)
    value.backward()
    assert logits.grad.abs().sum() > 0


def test_ohem_pixel_sampler_weights_the_hard_pixels():
    logits = _logits((2, 3, 6, 6), seed=8)
    target = _labels((2, 1, 6, 6), 3, seed=9)
    thresh, min_kept = 0.6, 5
    loss = TaskLoss('semseg', dict(type='CrossEntropyLoss'),
                    sampler=dict(type='OHEMPixelSampler', thresh=thresh, min_kept=min_kept))
    labels = target[:, 0]
    valid = labels != 255
    prob = logits.detach().softmax(1).gather(1, labels.clamp(max=2).unsqueeze(1))[:, 0]
    kth = prob[valid].sort().values[min(min_kept * 2, int(valid.sum()) - 1)]
    hard = valid & (prob < max(float(kth), thresh))
    per_pixel = F.cross_entropy(logits, labels, ignore_index=255, reduction='none')
    expected = (per_pixel * hard).sum() / labels.numel()  # mmseg: avg_non_ignore=False
    assert 0 < int(hard.sum()) < int(valid.sum())
    assert loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-7)


def test_ohem_pixel_sampler_without_threshold_keeps_min_kept_pixels():
    logits = _logits((1, 3, 6, 6), seed=10)
    target = _labels((1, 1, 6, 6), 3, seed=11)
    loss = TaskLoss('semseg', dict(type='CrossEntropyLoss', avg_non_ignore=True),
                    sampler=dict(type='OHEMPixelSampler', min_kept=4))
    weight = loss.sampler.sample(logits.detach(), target)
    assert int(weight.sum()) == 4
    per_pixel = F.cross_entropy(logits, target[:, 0], ignore_index=255, reduction='none')
    top4 = per_pixel[target[:, 0] != 255].sort(descending=True).values[:4]
    assert torch.allclose(per_pixel[weight.bool()].sort(descending=True).values, top4)


def test_binary_tasks_take_one_logit_mmseg_losses():
    gen = torch.Generator().manual_seed(12)
    logits = _logits((2, 1, 6, 6), seed=12)
    target = (torch.rand(2, 1, 6, 6, generator=gen) > 0.7).long()
    target[:, :, 0] = 255
    value = TaskLoss('edge', dict(type='CrossEntropyLoss', use_sigmoid=True,
                                  avg_non_ignore=True))(logits, target)
    valid = target != 255
    expected = F.binary_cross_entropy_with_logits(logits[valid], target[valid].double())
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    assert torch.isfinite(TaskLoss('edge', dict(type='BoundaryLoss'))(logits, target))
    hinge = TaskLoss('edge', dict(type='LovaszLoss', loss_type='binary', per_image=True))
    assert torch.isfinite(hinge(logits.float(), target))
    with pytest.raises(ValueError, match=r"Task 'edge': CrossEntropyLoss needs one logit "
                       r'channel per class \(2 for a two-class task\) but the head has 1'):
        TaskLoss('edge', dict(type='CrossEntropyLoss'))(logits, target)
    two_channel = TaskLoss('saliency', dict(type='CrossEntropyLoss', avg_non_ignore=True))
    assert torch.isfinite(two_channel(_logits((2, 2, 6, 6), seed=13), target))


def test_mmmtl_and_mmseg_depth_losses_read_the_stacked_map():
    pred = torch.rand(2, 1, 5, 5, dtype=torch.float64) + 0.5
    target = torch.rand(2, 1, 5, 5, dtype=torch.float64) + 0.5
    target[:, :, 0] = 0  # invalid depth
    valid = target > 0
    l1 = TaskLoss('depth', dict(type='DepthL1Loss', loss_weight=2.0))(pred, target)
    assert l1.item() == pytest.approx(2.0 * (pred - target).abs()[valid].mean().item())
    silog = TaskLoss('depth', dict(type='SiLogLoss'))(pred, target)
    diff = (target.log() - pred.log())[valid].view(2, -1)
    expected = (diff.pow(2).mean(1) - 0.5 * diff.mean(1).pow(2)).sqrt().mean()
    assert silog.item() == pytest.approx(expected.item(), rel=1e-6)


class _UnitLoss(nn.Module):
    """A loss of a user's project without ``task_kinds``."""

    def forward(self, pred, target, **kwargs):
        return pred.mean() * 0 + target.float().mean()


class _NormalCosineLoss(nn.Module):
    """A user's normal loss declaring the task kinds it serves."""
    task_kinds = ('normal', )

    def forward(self, pred, target):
        return 1 - F.cosine_similarity(pred, target, dim=1).mean()


def test_user_losses_follow_task_kinds():
    MODELS.register_module(module=_UnitLoss, force=True)
    MODELS.register_module(module=_NormalCosineLoss, force=True)
    normals = F.normalize(torch.randn(1, 3, 4, 4), dim=1)
    assert TaskLoss('normal', dict(type='_NormalCosineLoss'))(normals, normals).abs() < 1e-6
    labels = torch.full((1, 1, 4, 4), 3)
    # without task_kinds: mmseg's convention, (N, H, W) int64 labels
    assert TaskLoss('semseg', dict(type='_UnitLoss'))(torch.randn(1, 5, 4, 4), labels) == 3
    with pytest.raises(ValueError, match=r"Task 'depth' .* cannot use _UnitLoss: .*"
                       r"declares `task_kinds = \('depth', \)`"):
        TaskLoss('depth', dict(type='_UnitLoss'))
    with pytest.raises(ValueError, match=r"Task 'semseg' .* cannot use _NormalCosineLoss: "
                       r'it is a loss for normal targets'):
        TaskLoss('semseg', dict(type='_NormalCosineLoss'))


@pytest.mark.parametrize('task,cfg,message', [
    ('depth', dict(type='CrossEntropyLoss'),
     r"Task 'depth' \(\(N, 1, H, W\) float depth, 0 = invalid\) cannot use CrossEntropyLoss: "
     r'it is a classification loss .* \(N, H, W\) int64 class labels .* DepthL1Loss'),
    ('normal', [dict(type='NormalL1Loss'), dict(type='DiceLoss')],
     r"Task 'normal' .* cannot use DiceLoss: it is a classification loss .* NormalL1Loss"),
    ('semseg', dict(type='DepthL1Loss'),
     r"Task 'semseg' \(\(N, 1, H, W\) int64 class labels, 255 = ignore\) cannot use "
     r'DepthL1Loss: it is a loss for depth targets'),
    ('depth', dict(type='SiLogLoss'), None),
    ('normal', dict(type='SiLogLoss'), r"Task 'normal' .* cannot use SiLogLoss: .* depth"),
    ('semseg', dict(type='CSDivergenceLoss', mode='channel'),
     r'cannot use CSDivergenceLoss: it compares two predictions'),
    ('depth', dict(type='DISTLoss', mode='spatial'),
     r'cannot use DISTLoss: it compares two predictions \(a distillation loss\)'),
    ('edge', dict(type='KLDivergenceLoss', mode='binary'),
     r'cannot use KLDivergenceLoss: it compares two predictions'),
    ('semseg', dict(type='KLDivLoss'), r'cannot use KLDivLoss: it compares two predictions'),
    ('edge', dict(type='TverskyLoss'), r"Task 'edge' .* cannot use TverskyLoss: .* label"),
    ('semseg', dict(type='CrossEntropyLoss', class_weight=[1., 2., 1.]),
     r"Task 'semseg': mmseg's CrossEntropyLoss with class_weight .* \(255\) .*"
     r'MultiTaskCrossEntropyLoss'),
])
def test_unfit_losses_raise_naming_task_loss_and_target(task, cfg, message):
    if message is None:
        TaskLoss(task, cfg)
        return
    with pytest.raises(ValueError, match=message):
        TaskLoss(task, cfg)


def test_mmseg_focal_loss_on_cpu_raises_before_its_known_bug():
    loss = TaskLoss('semseg', dict(type='FocalLoss'))
    with pytest.raises(ValueError, match=r"Task 'semseg': mmseg's FocalLoss only works on "
                       r'CUDA tensors.*#3249'):
        loss(_logits((1, 3, 4, 4), seed=14), _labels((1, 1, 4, 4), 3, seed=15))


def test_failures_inside_a_loss_name_task_loss_and_shapes():
    loss = TaskLoss('semseg', dict(type='CrossEntropyLoss'))
    target = torch.full((1, 1, 4, 4), 7)  # class 7 of a 3-class head
    with pytest.raises(IndexError, match=r"Task 'semseg': CrossEntropyLoss failed on logits "
                       r'\(1, 3, 4, 4\) and target \(1, 4, 4\), \(N, H, W\) int64 class labels'):
        loss(torch.randn(1, 3, 4, 4), target)
    with pytest.raises(ValueError, match=r"Task 'semseg': logits \(1, 3, 4, 4\) and target "
                       r'\(1, 1, 5, 4\)'):
        loss(torch.randn(1, 3, 4, 4), torch.zeros(1, 1, 5, 4, dtype=torch.long))


def test_bad_configs_and_samplers_raise():
    with pytest.raises(TypeError, match=r"Task 'semseg': loss_decode must be a loss config"):
        TaskLoss('semseg', [])
    with pytest.raises(KeyError, match='Unknown task name'):
        TaskLoss('segm', dict(type='CrossEntropyLoss'))
    ohem = dict(type='OHEMPixelSampler', thresh=0.7)
    with pytest.raises(ValueError, match=r"Task 'depth': a pixel sampler .* depth task"):
        TaskLoss('depth', dict(type='DepthL1Loss'), sampler=ohem)
    with pytest.raises(ValueError, match=r"Task 'semseg': the sampler OHEMPixelSampler .* "
                       r'MultiTaskCrossEntropyLoss does not take'):
        TaskLoss('semseg', dict(type='MultiTaskCrossEntropyLoss'), sampler=ohem)
    with pytest.raises(ValueError, match=r'which LovaszLoss does not take per pixel'):
        TaskLoss('semseg', [dict(type='CrossEntropyLoss'),
                            dict(type='LovaszLoss', per_image=True)], sampler=ohem)
    with pytest.raises(AssertionError, match=r"Task 'semseg': cannot build the loss "
                       r".*'LovaszLoss'.*: reduction should be 'none'"):
        TaskLoss('semseg', dict(type='LovaszLoss'))  # mmseg: per_image=False needs 'none'
    with pytest.raises(KeyError, match=r"Task 'semseg': cannot build the loss .*NoSuchLoss"):
        TaskLoss('semseg', dict(type='NoSuchLoss'))
