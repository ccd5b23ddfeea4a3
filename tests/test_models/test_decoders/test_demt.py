"""DeMT decoder: behaviour, every config on both data sets, and its published size."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from tool_loader import load_tool

from mmmtl.models.decoders import DeMTDecoder
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import get_task_spec

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = sorted(
    osp.relpath(p, REPO) for p in glob.glob(osp.join(REPO, 'configs', 'mtl', 'demt_*.py')))
NYUD = dict(semseg=40, depth=1, normal=3, edge=1)
LOSSES = dict(semseg=dict(type='MultiTaskCrossEntropyLoss'), depth=dict(type='DepthL1Loss'),
              normal=dict(type='NormalL1Loss'),
              edge=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.8))


def tiny_decoder(**kwargs) -> DeMTDecoder:
    cfg = dict(type='DeMTDecoder', tasks=list(NYUD), out_channels=NYUD, task_losses=LOSSES,
               in_channels=12, embed_dims=8, num_heads=2, bottleneck_channels=4)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_outputs_every_task_at_the_input_resolution_without_aux():
    torch.manual_seed(0)
    decoder = tiny_decoder()
    final, aux = decoder.forward_with_aux((torch.randn(2, 12, 6, 9), ))
    assert aux == {}
    assert list(final) == list(NYUD)
    for task, channels in NYUD.items():
        assert final[task].shape == (2, channels, 6, 9), task
    assert decoder.out_channels == NYUD


def test_images_of_a_batch_do_not_interact():
    torch.manual_seed(0)
    decoder = tiny_decoder().eval()
    x = torch.randn(3, 12, 5, 7)
    batch = decoder((x, ))
    for index in range(3):
        single = decoder((x[index:index + 1], ))
        for task in NYUD:
            assert torch.allclose(batch[task][index:index + 1], single[task], atol=1e-5), task


def test_tasks_exchange_information():
    """Changing the semseg mixer changes the depth prediction (task attention)."""
    torch.manual_seed(0)
    decoder = tiny_decoder().eval()
    x = (torch.randn(1, 12, 5, 7), )
    before = decoder(x)
    with torch.no_grad():
        decoder.mixers['semseg'][0].channel_mix.weight.mul_(-2)
    after = decoder(x)
    assert not torch.allclose(before['depth'], after['depth'])
    with torch.no_grad():  # the depth mixer alone is not enough: its output is fixed here
        decoder.interaction.attn.v_proj.weight.zero_()
        decoder.interaction.attn.v_proj.bias.zero_()
        for block in decoder.task_queries.values():
            block.norm.weight.zero_()
            block.norm.bias.zero_()
    isolated = decoder(x)
    with torch.no_grad():
        decoder.mixers['semseg'][0].channel_mix.weight.mul_(3)
    assert torch.allclose(isolated['depth'], decoder(x)['depth'])


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match='MultiScaleConcatNeck'):
        tiny_decoder(in_channels=[4, 8])
    with pytest.raises(ValueError, match='in_channels says 12'):
        tiny_decoder()((torch.randn(1, 10, 4, 4), ))
    with pytest.raises(KeyError, match="no loss for tasks \\['edge'\\]"):
        tiny_decoder(task_losses={t: LOSSES[t] for t in ('semseg', 'depth', 'normal')})


def build(config: str):
    cfg = Config.fromfile(osp.join(REPO, config))
    model_cfg = cfg.model.student if cfg.model.type == 'KDAMDistiller' else cfg.model
    model_cfg.backbone.init_cfg = None  # never download in tests
    return revert_sync_batchnorm(MODELS.build(model_cfg)), cfg


def random_samples(model, size, batch=2):
    gen = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(batch):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=size, ori_shape=size))
        for task, channels in model.task_channels.items():
            spec = get_task_spec(task)
            if spec.kind == 'label':
                gt = torch.randint(0, channels, (1, *size), generator=gen)
            elif spec.kind == 'binary':
                gt = torch.randint(0, 2, (1, *size), generator=gen)
            elif spec.kind == 'depth':
                gt = torch.rand(1, *size, generator=gen) + 0.5
            else:
                gt = torch.nn.functional.normalize(torch.randn(3, *size, generator=gen), dim=0)
            setattr(sample, spec.gt_key, PixelData(data=gt))
        samples.append(sample)
    return samples


def test_configs_cover_both_data_sets_and_four_backbones():
    crops = dict(nyud='425x560', pascal='512x512')
    assert CONFIGS == [f'configs/mtl/demt_{b}_40k_{d}-{crops[d]}.py'
                       for b in ('hrnet18', 'swinB', 'swinS', 'swinT') for d in ('nyud', 'pascal')]


@pytest.mark.parametrize('config', CONFIGS)
def test_config_forward_loss_predict_on_every_task(config):
    torch.manual_seed(0)
    model, cfg = build(config)
    assert isinstance(model.decoder, DeMTDecoder)
    tasks = cfg.val_evaluator.tasks
    assert model.tasks == tasks
    size = (64, 64)
    inputs = torch.randn(2, 3, *size)
    samples = random_samples(model, size)
    model.train()
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {f'loss_{task}' for task in tasks}  # no auxiliary outputs
    assert all(torch.isfinite(value) for value in losses.values())
    sum(losses.values()).backward()
    decoder_params = list(model.decoder.named_parameters())
    missing = [name for name, p in decoder_params if p.grad is None]
    assert not missing, missing
    model.eval()
    with torch.no_grad():
        logits = model(inputs, mode='tensor')
        preds = model(inputs, random_samples(model, size), mode='predict')
    for task in tasks:
        assert logits[task].shape == (2, model.task_channels[task], *size), task
        pred = getattr(preds[0], get_task_spec(task).pred_key).data
        assert pred.shape[-2:] == size, task


@pytest.mark.parametrize('backbone', ['swinT', 'swinS'])
def test_kdam_configs_distil_swinL_into_the_demt_config(backbone):
    kdam = Config.fromfile(
        osp.join(REPO, f'configs/kdam/kdam_swinL-demt-{backbone}_40k_nyud-425x560.py'))
    student = Config.fromfile(osp.join(REPO, f'configs/mtl/demt_{backbone}_40k_nyud-425x560.py'))
    reference = Config.fromfile(
        osp.join(REPO, 'configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py'))
    assert kdam.model.type == 'KDAMDistiller'
    assert kdam.model.student == student.model
    assert kdam.model.teacher_cfg == 'configs/mtl/mtl_swinL_40k_nyud-425x560.py'
    for key in ('distill_losses', 'alpha', 'beta', 'teacher_ckpt'):
        assert kdam.model[key] == reference.model[key], key
    assert kdam.train_cfg == student.train_cfg and kdam.optim_wrapper == student.optim_wrapper


# --- Params and GFLOPs of the NYUD-v2 configs at the authors' 3x425x560 ---------

def decoder_macs_per_location(in_channels, dims, bottleneck, task_channels, window=3):
    """Paper-convention MACs of the DeMT decoder per stride-4 location, by hand."""
    points = window * window
    tasks = len(task_channels)
    input_proj = in_channels * dims + dims + 2 * dims  # Linear + LayerNorm
    mixer = (dims * dims + dims + dims + 2 * dims  # 1x1 conv, GELU, BN
             + dims * dims + 4 * dims + dims  # deformable: weights, bilinear taps, bias
             + 2 * points * dims * 9 + 2 * points  # displacement: 3x3 conv to 2k^2 maps
             + 2 * dims * points * 9 + 2 * dims  # offsets: 3x3 conv in 2 groups of k^2
             + dims + 2 * dims)  # GELU, BN
    attention = 4 * (dims * dims + dims)  # q, k, v, out projections (+ biases)
    block = attention + dims * dims + dims + 2 * dims  # + Linear + LayerNorm
    interaction = tasks * block  # T tokens per location
    queries = tasks * block  # one token per task
    heads = tasks * (9 * dims * bottleneck + 2 * bottleneck + bottleneck)  # conv, BN, ReLU
    logits = sum(bottleneck * c + c for c in task_channels)
    return input_proj + tasks * mixer + interaction + queries + heads + logits


# (params M, GFLOPs) published by the DeMT authors for NYUD-v2
PUBLISHED = dict(hrnet18=(4.76, 22.07), swinT=(32.07, 100.70), swinS=(53.03, 121.05),
                 swinB=(90.9, 153.65))


@pytest.mark.slow
@pytest.mark.parametrize('backbone', list(PUBLISHED))
def test_params_and_gflops_against_published(backbone):
    """Params: within 1 % of the published figures (Swin-B: 1.2 %, see
    configs/mtl/README.md). GFLOPs: the decoder is counted exactly as the
    hand formula; leaving out the deformable convolutions' MACs (which the
    authors' counter did not see) reproduces the published Swin-T / Swin-S
    figures within 1 %."""
    get_flops = load_tool('tools/analysis_tools/get_flops.py')
    model, _ = build(f'configs/mtl/demt_{backbone}_40k_nyud-425x560.py')
    model.eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    published_params, published_gflops = PUBLISHED[backbone]
    tolerance = 0.012 if backbone == 'swinB' else 0.01
    assert params == pytest.approx(published_params, rel=tolerance)

    decoder = model.decoder
    locations = 107 * 140  # stride-4 map of a 425x560 input
    total = get_flops.paper_flops(get_flops._TensorForward(model), torch.zeros(1, 3, 425, 560))
    decoder_macs = get_flops.paper_flops(decoder, (torch.zeros(1, decoder.in_channels, 107,
                                                               140), ))
    expected = locations * decoder_macs_per_location(
        decoder.in_channels, decoder.embed_dims,
        decoder.bottlenecks['semseg'].conv.out_channels, list(decoder.out_channels.values()))
    assert decoder_macs == expected
    deform = 4 * locations * (decoder.embed_dims**2 + 5 * decoder.embed_dims)
    without_deform = (total - deform) / 1e9
    if backbone in ('swinT', 'swinS'):
        assert without_deform == pytest.approx(published_gflops, rel=0.01)
