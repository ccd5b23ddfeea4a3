"""MultiTaskEncoderDecoder: losses, predict from padded inputs, tensor mode, errors."""
import pytest
import torch
from mmengine.structures import PixelData

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample

NORM = dict(type='BN', requires_grad=True)


def tiny_model(tasks=('semseg', 'depth', 'normal', 'edge'), **kwargs):
    heads = dict(
        semseg=dict(type='ATRCBaselineHead', channels=8, out_channels=5, norm_cfg=NORM,
                    loss_decode=dict(type='MultiTaskCrossEntropyLoss')),
        depth=dict(type='ATRCBaselineHead', channels=8, out_channels=1, norm_cfg=NORM,
                   loss_decode=dict(type='DepthL1Loss')),
        normal=dict(type='ATRCBaselineHead', channels=8, out_channels=3, norm_cfg=NORM,
                    loss_decode=dict(type='NormalL1Loss', loss_weight=10.)),
        edge=dict(type='ATRCBaselineHead', channels=8, out_channels=1, norm_cfg=NORM,
                  loss_decode=dict(type='BalancedBinaryCrossEntropyLoss', loss_weight=50.)),
        saliency=dict(type='ATRCBaselineHead', channels=8, out_channels=2, norm_cfg=NORM,
                      loss_decode=dict(type='BalancedCrossEntropyLoss', loss_weight=5.)))
    cfg = dict(
        type='MultiTaskEncoderDecoder',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor', mean=[0., 0., 0.],
                               std=[255., 255., 255.], size_divisor=32),
        backbone=dict(type='SwinTransformer', embed_dims=8, depths=(1, 1, 1, 1),
                      num_heads=(1, 1, 2, 2), window_size=4, drop_path_rate=0.),
        neck=dict(type='MultiScaleConcatNeck', in_channels=[8, 16, 32, 64]),
        task_heads={t: heads[t] for t in tasks})
    cfg.update(kwargs)
    return MODELS.build(cfg)


def make_sample(height, width, tasks=('semseg', 'depth', 'normal', 'edge'), seed=0):
    gen = torch.Generator().manual_seed(seed)
    sample = MultiTaskDataSample()
    if 'semseg' in tasks:
        sample.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, height, width), generator=gen))
    if 'depth' in tasks:
        sample.gt_depth = PixelData(data=torch.rand(1, height, width, generator=gen) * 3 + 0.5)
    if 'normal' in tasks:
        sample.gt_normal = PixelData(data=torch.nn.functional.normalize(
            torch.randn(3, height, width, generator=gen), dim=0))
    if 'edge' in tasks:
        sample.gt_edge = PixelData(data=(torch.rand(1, height, width, generator=gen) > 0.8).long())
    sample.set_metainfo(dict(img_path=f'img_{seed}.png', ori_shape=(height, width),
                             img_shape=(height, width), tasks=list(tasks)))
    return sample


def test_loss_returns_one_weighted_term_per_task_with_gradients():
    model = tiny_model()
    data = dict(inputs=[torch.randint(0, 255, (3, 40, 52), dtype=torch.uint8)] * 2,
                data_samples=[make_sample(40, 52, seed=s) for s in range(2)])
    data = model.data_preprocessor(data, training=True)
    assert data['inputs'].shape == (2, 3, 64, 64)  # padded to multiples of 32
    assert data['data_samples'][0].gt_sem_seg.data[0, 50, 60] == 255  # padded gt ignored
    assert data['data_samples'][0].gt_depth.data[0, 50, 60] == 0
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_semseg', 'loss_depth', 'loss_normal', 'loss_edge'}
    sum(losses.values()).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_predict_crops_padding_and_decodes_every_task():
    model = tiny_model(tasks=('semseg', 'depth', 'normal', 'edge', 'saliency')).eval()
    sample = make_sample(40, 52)
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 255, (3, 40, 52), dtype=torch.uint8)],
             data_samples=[sample]), training=False)
    assert data['inputs'].shape[-2:] == (64, 64)
    with torch.no_grad():
        out = model(**data, mode='predict')[0]
    assert out.pred_sem_seg.data.shape == (1, 40, 52)
    assert out.pred_sem_seg.data.dtype == torch.int64
    assert 0 <= out.pred_sem_seg.data.min() and out.pred_sem_seg.data.max() < 5
    assert out.pred_depth.data.shape == (1, 40, 52) and out.pred_depth.data.min() >= 0
    norms = out.pred_normal.data.norm(dim=0)
    assert out.pred_normal.data.shape == (3, 40, 52)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    for field in (out.pred_edge, out.pred_saliency):
        assert field.data.shape == (1, 40, 52)
        assert 0 <= field.data.min() and field.data.max() <= 1
    # the prediction is the crop of the padded logits, not a resize of them
    with torch.no_grad():
        logits = model(data['inputs'], mode='tensor')
    assert torch.equal(out.pred_sem_seg.data[0], logits['semseg'][0, :, :40, :52].argmax(0))


def test_centred_padding_places_the_image_in_the_middle_and_is_cropped_back():
    """pad_center (InvPT's PadImage): 40x52 -> 64x64 with 12 / 12 rows and 6 / 6 columns
    around the image; predictions are the crop of that window."""
    model = tiny_model(data_preprocessor=dict(
        type='MultiTaskDataPreProcessor', mean=[0., 0., 0.], std=[255., 255., 255.],
        size=(64, 64), pad_center=True)).eval()
    image = torch.randint(1, 255, (3, 40, 52), dtype=torch.uint8)
    sample = make_sample(40, 52)
    data = model.data_preprocessor(dict(inputs=[image], data_samples=[sample]), training=False)
    assert data['data_samples'][0].padding_size == (6, 6, 12, 12)
    torch.testing.assert_close(data['inputs'][0, :, 12:52, 6:58], image.float() / 255.)
    assert data['inputs'][0, :, :12].abs().max() == 0
    assert data['inputs'][0, :, :, :6].abs().max() == 0
    with torch.no_grad():
        out = model(**data, mode='predict')[0]
        logits = model(data['inputs'], mode='tensor')
    assert torch.equal(out.pred_sem_seg.data[0], logits['semseg'][0, :, 12:52, 6:58].argmax(0))
    train = model.data_preprocessor(dict(inputs=[image], data_samples=[make_sample(40, 52)]),
                                    training=True)
    gt = train['data_samples'][0].gt_sem_seg.data
    assert (gt[0, :12] == 255).all() and torch.equal(gt[0, 12:52, 6:58], sample.gt_sem_seg.data[0])


def test_predict_resizes_to_original_shape_and_rescales_depth():
    model = tiny_model(tasks=('depth', )).eval()
    logits = {'depth': torch.full((1, 1, 32, 32), 2.0)}
    sample = MultiTaskDataSample(metainfo=dict(ori_shape=(64, 64), scale_factor=(0.5, 0.5),
                                               padding_size=(0, 0, 0, 0)))
    out = model.postprocess_result(logits, [sample])[0]
    assert out.pred_depth.data.shape == (1, 64, 64)
    # the test image was shrunk by 0.5, so its depth reads 0.5x the true one
    assert torch.allclose(out.pred_depth.data, torch.full((1, 64, 64), 1.0))


def test_logits_are_kept_only_when_asked_and_resized_as_the_prediction():
    tasks = ('semseg', 'depth', 'normal', 'edge')
    gen = torch.Generator().manual_seed(3)
    # padded 32x40 input of a 24x36 image resized by 0.5 from 48x72
    logits = {'semseg': torch.randn(1, 5, 32, 40, generator=gen),
              'depth': torch.randn(1, 1, 32, 40, generator=gen) + 1,
              'normal': torch.randn(1, 3, 32, 40, generator=gen),
              'edge': torch.randn(1, 1, 32, 40, generator=gen)}
    meta = dict(ori_shape=(48, 72), scale_factor=(0.5, 0.5), padding_size=(0, 4, 0, 8))

    model = tiny_model(tasks=tasks).eval()
    out = model.postprocess_result(logits, [MultiTaskDataSample(metainfo=meta)])[0]
    assert 'pred_sem_seg' in out and not any(key.endswith('_logits') for key in out.keys())

    model = tiny_model(tasks=tasks, test_cfg=dict(mode='whole', output_logits=True)).eval()
    out = model.postprocess_result(logits, [MultiTaskDataSample(metainfo=meta)])[0]
    for task, field, channels in (('semseg', 'sem_seg', 5), ('depth', 'depth', 1),
                                  ('normal', 'normal', 3), ('edge', 'edge', 1)):
        expected = torch.nn.functional.interpolate(
            logits[task][:, :, :24, :36], size=(48, 72), mode='bilinear',
            align_corners=False)[0]
        if task == 'depth':
            expected = expected * 0.5  # shrunk by 0.5, the image looked 2x nearer
        got = getattr(out, f'{field}_logits').data
        assert got.shape == (channels, 48, 72)
        torch.testing.assert_close(got, expected)
    assert torch.equal(out.pred_sem_seg.data, out.sem_seg_logits.data.argmax(0, keepdim=True))
    torch.testing.assert_close(out.pred_depth.data, out.depth_logits.data.clamp(min=0))
    torch.testing.assert_close(out.pred_edge.data, out.edge_logits.data.sigmoid())


@pytest.mark.parametrize('size,crop,stride', [((64, 64), (32, 32), (16, 16)),
                                               ((45, 70), (32, 24), (20, 17))])
def test_slide_inference_matches_whole_on_pixelwise_model(size, crop, stride):
    """With a per-pixel network, sliding windows must reproduce whole inference.

    Any misplaced window, wrong overlap count or uncovered border shows up as
    a difference (the windows of the second case overhang and overlap unevenly).
    """
    model = tiny_model(tasks=('depth', 'normal'),
                       test_cfg=dict(mode='slide', crop_size=crop, stride=stride)).eval()
    weight = torch.randn(4, 3, 1, 1, generator=torch.Generator().manual_seed(0))

    def pixelwise(inputs):
        out = torch.nn.functional.conv2d(inputs, weight).tanh()
        return dict(depth=out[:, :1], normal=out[:, 1:])

    model.forward_tasks = pixelwise
    inputs = torch.randn(2, 3, *size)
    slide = model.inference(inputs)
    whole = pixelwise(inputs)
    for task in ('depth', 'normal'):
        assert slide[task].shape == whole[task].shape
        torch.testing.assert_close(slide[task], whole[task], rtol=1e-6, atol=1e-6)
    model.test_cfg = dict(mode='whole')
    torch.testing.assert_close(model.inference(inputs)['normal'], whole['normal'])


def test_task_missing_from_dataset_is_named():
    model = tiny_model()
    data = model.data_preprocessor(
        dict(inputs=[torch.zeros(3, 32, 32, dtype=torch.uint8)],
             data_samples=[make_sample(32, 32, tasks=('semseg', 'depth', 'normal'))]),
        training=True)
    with pytest.raises(KeyError, match="Task 'edge' is a task of the model but the data sample of "
                       'img_0.png has no'):
        model(**data, mode='loss')


def test_wrong_head_channels_and_unknown_task_are_named():
    with pytest.raises(ValueError, match="Task 'normal': the head has out_channels=1"):
        MODELS.build(dict(type='ATRCBaselineHead', task='normal', in_channels=4, channels=4,
                          out_channels=1, loss_decode=dict(type='NormalL1Loss')))
    with pytest.raises(KeyError, match="Unknown task name 'segmentation'"):
        tiny_model(task_heads=dict(segmentation=dict(
            type='ATRCBaselineHead', channels=4, out_channels=3,
            loss_decode=dict(type='MultiTaskCrossEntropyLoss'))))


def test_mmseg_decode_head_as_task_head():
    model = tiny_model(tasks=('depth', ), neck=None, task_heads=dict(depth=dict(
        type='MMSegTaskHead', out_channels=1, loss_decode=dict(type='DepthL1Loss'),
        decode_head=dict(type='FCNHead', in_channels=64, in_index=3, channels=8,
                         num_convs=1, norm_cfg=NORM))))
    logits = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert logits['depth'].shape == (2, 1, 64, 64)
