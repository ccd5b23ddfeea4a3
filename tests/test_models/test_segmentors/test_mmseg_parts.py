"""mmseg backbones, decode heads and decode losses as parts of a multi-task model."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData

from mmmtl.models.losses import TaskLoss
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample

NORM = dict(type='BN', requires_grad=True)
FCN = dict(type='FCNHead', in_channels=32, in_index=3, channels=8, num_convs=1,
           concat_input=False, norm_cfg=NORM)


def resnet_fcn_model(semseg_head=None):
    semseg_head = semseg_head or dict(
        type='MMSegTaskHead', out_channels=6, decode_head=FCN,
        loss_decode=[dict(type='CrossEntropyLoss', avg_non_ignore=True),
                     dict(type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True,
                          loss_name='loss_bce', loss_weight=0.5)],
        sampler=dict(type='OHEMPixelSampler', thresh=0.7, min_kept=50))
    return MODELS.build(dict(
        type='MultiTaskEncoderDecoder',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=[0., 0., 0.],
                               std=[255., 255., 255.], size_divisor=8),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=4, base_channels=4,
                      strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4), norm_cfg=NORM),
        task_heads=dict(
            semseg=semseg_head,
            depth=dict(type='MMSegTaskHead', out_channels=1, decode_head=FCN,
                       loss_decode=dict(type='SiLogLoss')),
            edge=dict(type='MMSegTaskHead', out_channels=1, decode_head=FCN,
                      loss_decode=dict(type='BalancedBinaryCrossEntropyLoss')))))


def batch(model, size=(32, 40)):
    gen = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(2):
        sample = MultiTaskDataSample()
        semseg = torch.randint(0, 6, (1, *size), generator=gen)
        semseg[:, :4] = 255
        sample.gt_sem_seg = PixelData(data=semseg)
        sample.gt_depth = PixelData(data=torch.rand(1, *size, generator=gen) + 0.5)
        sample.gt_edge = PixelData(data=(torch.rand(1, *size, generator=gen) > 0.8).long())
        sample.set_metainfo(dict(img_shape=size, ori_shape=size))
        samples.append(sample)
    inputs = [torch.randint(0, 255, (3, *size), dtype=torch.uint8) for _ in range(2)]
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), training=True)


def test_resnet_fcn_heads_with_mmseg_losses_and_ohem_train():
    torch.manual_seed(0)  # the weights: the result must not depend on earlier tests
    model = resnet_fcn_model()
    model.train()
    data = batch(model)
    torch.manual_seed(1)  # the heads' dropout
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_semseg', 'loss_depth', 'loss_edge'}  # one key per task
    assert all(value.shape == () and torch.isfinite(value) for value in losses.values())
    # loss_semseg is CE + 0.5 * BCE (both OHEM-weighted) on the head's logits
    torch.manual_seed(1)
    logits = model.forward_tasks(data['inputs'])['semseg']
    target = torch.stack([s.gt_sem_seg.data for s in data['data_samples']])
    head_loss = model.task_heads['semseg'].loss_decode
    terms = head_loss.loss_terms(logits, target)
    assert list(terms) == ['loss_ce', 'loss_bce']
    assert losses['loss_semseg'].item() == pytest.approx(sum(terms.values()).item())
    labels = target[:, 0]
    weight = head_loss.sampler.sample(logits.detach(), target)
    # untrained: every valid pixel is below thresh=0.7, so OHEM keeps them all
    assert torch.equal(weight.bool(), labels != 255)
    per_pixel = F.cross_entropy(logits, labels, ignore_index=255, reduction='none')
    ce = (per_pixel * weight).sum() / (labels != 255).sum()
    assert terms['loss_ce'].item() == pytest.approx(ce.item(), rel=1e-5)
    sum(losses.values()).backward()
    assert model.backbone.stem[0].weight.grad.abs().sum() > 0
    for task in ('semseg', 'depth', 'edge'):
        assert model.task_heads[task].decode_head.conv_seg.weight.grad.abs().sum() > 0


def test_task_losses_add_no_state_dict_keys():
    model = resnet_fcn_model()
    keys = list(model.state_dict())
    assert not [key for key in keys if 'loss' in key or 'sampler' in key]
    assert isinstance(model.task_heads['semseg'].loss_decode, TaskLoss)
    assert len(model.task_heads['semseg'].decode_head.loss_decode) == 0  # unused: none built


def test_mmseg_head_config_hands_its_loss_to_the_task():
    head = resnet_fcn_model(dict(
        type='MMSegTaskHead', out_channels=6,
        decode_head=dict(FCN, loss_decode=dict(type='DiceLoss', loss_weight=2.0),
                         ignore_index=255))).task_heads['semseg']
    assert head.loss_decode.loss_names == ['loss_dice']
    logits = torch.randn(2, 6, 8, 8)
    target = torch.randint(0, 6, (2, 1, 8, 8))
    expected = 2.0 * MODELS.build(dict(type='DiceLoss'))(logits, target[:, 0])
    assert head.loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
    with pytest.raises(ValueError, match="Task 'semseg': loss_decode is set both on "
                       r'MMSegTaskHead and in its decode_head \(FCNHead\)'):
        MODELS.build(dict(type='MMSegTaskHead', task='semseg', out_channels=6,
                          decode_head=dict(FCN, loss_decode=dict(type='DiceLoss')),
                          loss_decode=dict(type='CrossEntropyLoss')))
    with pytest.raises(TypeError, match="Task 'semseg': MMSegTaskHead needs loss_decode"):
        MODELS.build(dict(type='MMSegTaskHead', task='semseg', out_channels=6,
                          decode_head=FCN))


def test_classification_loss_on_depth_head_fails_at_build():
    with pytest.raises(ValueError, match=r"Task 'depth' .* cannot use CrossEntropyLoss"):
        MODELS.build(dict(type='MMSegTaskHead', task='depth', out_channels=1,
                          decode_head=FCN, loss_decode=dict(type='CrossEntropyLoss')))


def test_head_gradient_of_mmseg_cross_entropy_matches_reference():
    head = MODELS.build(dict(type='ATRCBaselineHead', task='human_parts', in_channels=4,
                             channels=4, out_channels=3,
                             loss_decode=dict(type='CrossEntropyLoss', loss_weight=2.0)))
    logits = torch.randn(1, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 3, (1, 1, 5, 5))
    target[..., 0] = 255
    head.loss(logits, target).backward()
    reference = logits.detach().clone().requires_grad_()
    (2.0 * F.cross_entropy(reference, target[:, 0], ignore_index=255, reduction='sum') /
     target.numel()).backward()
    assert torch.allclose(logits.grad, reference.grad, rtol=1e-6)
