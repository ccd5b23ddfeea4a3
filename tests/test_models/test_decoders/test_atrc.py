"""ATRCDecoder: the authors' contexts, forward / loss / predict on every task of
NYUD-v2 and PASCAL-Context, initial predictions, and the published size."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from tool_loader import load_tool

from mmmtl.models.decoders import ATRCDecoder
from mmmtl.models.decoders.atrc import guiding_tasks
from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import get_task_spec

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = {'nyud': 'configs/mtl/atrc_hrnet18_40k_nyud-425x560.py',
           'pascal': 'configs/mtl/atrc_hrnet18_40k_pascal-512x512.py'}
# The authors' searched genotypes (github.com/brdav/atrc, genotypes/atrc_*_hrnet18.json),
# in their coding 0 none, 1 global, 2 local, 3 t-label, 4 s-label; rows are targets,
# columns sources, in the order of TASKS.
CODES = ('none', 'global', 'local', 'tlabel', 'slabel')
TASKS = {'nyud': ('semseg', 'depth', 'normal', 'edge'),
         'pascal': ('semseg', 'human_parts', 'saliency', 'normal', 'edge')}
GENOTYPES = {
    'nyud': [[3, 3, 4, 4], [4, 3, 4, 4], [4, 3, 3, 4], [3, 3, 1, 3]],
    'pascal': [[3, 3, 4, 0, 4], [3, 3, 4, 3, 4], [3, 3, 3, 4, 3], [3, 3, 3, 3, 4],
               [3, 3, 3, 1, 3]],
}
SIZE = (64, 64)


def load_cfg(dataset):
    cfg = Config.fromfile(osp.join(REPO, CONFIGS[dataset]))
    cfg.model.backbone.init_cfg = None  # never download in tests
    return cfg


def build(dataset):
    return revert_sync_batchnorm(MODELS.build(load_cfg(dataset).model))


def tiny_decoder(**kwargs):
    cfg = dict(type='ATRCDecoder', in_channels=16, out_channels=dict(semseg=5, depth=1),
               contexts=dict(semseg=dict(semseg='tlabel', depth='global'),
                             depth=dict(semseg='slabel', depth='local')),
               task_losses=dict(semseg=dict(type='MultiTaskCrossEntropyLoss'),
                                depth=dict(type='DepthL1Loss')),
               aux_channels=dict(semseg=5),
               aux_losses=dict(semseg=dict(type='MultiTaskCrossEntropyLoss')),
               local_kernel_size=3)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def random_samples(model, batch=2):
    gen = torch.Generator().manual_seed(0)
    samples = []
    for _ in range(batch):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=SIZE, ori_shape=SIZE,
                                                   pad_shape=SIZE))
        for task, channels in model.task_channels.items():
            spec = get_task_spec(task)
            if spec.kind == 'label':
                gt = torch.randint(0, channels, (1, *SIZE), generator=gen)
            elif spec.kind == 'binary':
                gt = torch.randint(0, 2, (1, *SIZE), generator=gen)
            elif spec.kind == 'depth':
                gt = torch.rand(1, *SIZE, generator=gen) * 5 + 0.5
            else:
                gt = torch.nn.functional.normalize(torch.randn(3, *SIZE, generator=gen), dim=0)
            setattr(sample, spec.gt_key, PixelData(data=gt))
        samples.append(sample)
    return samples


@pytest.mark.parametrize('dataset', ['nyud', 'pascal'])
def test_configs_hold_the_authors_searched_contexts(dataset):
    contexts = load_cfg(dataset).model.decoder.contexts
    tasks = TASKS[dataset]
    assert list(contexts) == list(tasks)
    for target, row in zip(tasks, GENOTYPES[dataset]):
        assert {s: contexts[target][s] for s in tasks} == {
            source: CODES[code] for source, code in zip(tasks, row)}, target


@pytest.mark.parametrize('dataset', ['nyud', 'pascal'])
def test_config_builds_and_trains_on_every_task_with_initial_losses(dataset):
    torch.manual_seed(0)
    model = build(dataset)
    decoder = model.decoder
    assert isinstance(decoder, ATRCDecoder)
    assert model.tasks == list(TASKS[dataset])
    assert decoder.in_channels == 270 and decoder.channels == 67
    assert decoder.attention_channels == 33
    # every task guides a label context in both searched genotypes
    assert decoder.guiding_tasks == list(TASKS[dataset])
    for target in model.tasks:
        kinds = [k for k in decoder.contexts[target].values() if k != 'none']
        assert len(decoder.cp_blocks[target]) == len(kinds), target

    model.train()
    samples = random_samples(model)
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 256, (3, *SIZE), dtype=torch.uint8) for _ in samples],
             data_samples=samples), True)
    losses = model(**data, mode='loss')
    expected = {f'loss_{t}' for t in model.tasks} | {f'loss_{t}_initial' for t in model.tasks}
    assert set(losses) == expected
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    for name, param in model.decoder.named_parameters():
        assert param.grad is not None, name
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.parameters())

    model.eval()
    with torch.no_grad():
        logits = model(data['inputs'], mode='tensor')
        predictions = model(data['inputs'], data['data_samples'], mode='predict')
    for task in model.tasks:
        assert logits[task].shape == (2, decoder.out_channels[task], *SIZE), task
        pred = getattr(predictions[0], get_task_spec(task).pred_key).data
        assert pred.shape[-2:] == SIZE, task
    semseg = predictions[0].pred_sem_seg.data
    assert semseg.dtype == torch.int64 and semseg.max() < decoder.out_channels['semseg']


def test_initial_predictions_do_not_train_the_shared_features():
    torch.manual_seed(0)
    model = build('nyud').train()
    samples = random_samples(model)
    data = model.data_preprocessor(
        dict(inputs=[torch.randint(0, 256, (3, *SIZE), dtype=torch.uint8) for _ in samples],
             data_samples=samples), True)
    final, aux = model.forward_tasks_with_aux(data['inputs'])
    assert set(aux) == {'initial'}
    assert aux['initial']['depth'].shape == (2, 40, *SIZE)  # 40 log bins
    assert aux['initial']['normal'].shape == (2, 40, *SIZE)  # 40 clusters
    assert aux['initial']['edge'].shape == (2, 2, *SIZE)
    loss = model.loss_by_task_logits(final, data['data_samples'], aux)['loss_depth_initial']
    loss.backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is None for p in model.decoder.task_convs.parameters())
    assert model.decoder.initial_logits['depth'].weight.grad.abs().sum() > 0


def test_aux_losses_are_the_initial_prediction_losses_times_their_weight():
    torch.manual_seed(0)
    decoder = tiny_decoder(aux_loss_weights=dict(initial=0.5))
    logits, target = torch.randn(1, 5, 4, 4), torch.randint(0, 5, (1, 1, 4, 4))
    expected = 0.5 * torch.nn.functional.cross_entropy(logits, target[:, 0])
    torch.testing.assert_close(decoder.aux_task_loss('initial', 'semseg', logits, target),
                               expected)
    with pytest.raises(KeyError, match="only auxiliary output is 'initial'"):
        tiny_decoder(aux_loss_weights=dict(deep=1.0))


def test_context_projections_start_at_zero_and_init_weights_keeps_them():
    torch.manual_seed(0)
    decoder = tiny_decoder()
    decoder.init_weights()
    for projection in decoder.cp_projections.values():
        assert torch.all(projection.norm.weight == 0) and torch.all(projection.norm.bias == 0)
    for conv in list(decoder.final_logits.values()) + list(decoder.initial_logits.values()):
        assert conv.weight.std() < 0.02 and torch.all(conv.bias == 0)
    # at the start the contexts add nothing: the other task's features are irrelevant
    decoder.eval()
    feat = torch.randn(1, 16, 8, 8)
    task_feats = {t: decoder.task_convs[t](feat) for t in decoder.tasks}
    initial = decoder.initial_predictions(feat)
    base = decoder.propagate(task_feats, initial)
    moved = decoder.propagate(dict(task_feats, depth=torch.randn_like(task_feats['depth'])),
                              initial)
    torch.testing.assert_close(moved['semseg'], base['semseg'])


def test_guiding_tasks_follow_tlabel_rows_and_slabel_columns():
    contexts = dict(a=dict(a='none', b='slabel', c='global'),
                    b=dict(a='none', b='none', c='none'),
                    c=dict(a='tlabel', b='local', c='none'))
    assert guiding_tasks(contexts) == ['b', 'c']
    decoder = tiny_decoder(contexts=dict(semseg=dict(semseg='global', depth='none'),
                                         depth=dict(semseg='none', depth='none')),
                           aux_channels=None, aux_losses=None)
    assert decoder.guiding_tasks == []
    final, aux = decoder.forward_with_aux([torch.randn(1, 16, 8, 8)])
    assert aux == {} and set(final) == {'semseg', 'depth'}
    assert len(decoder.cp_blocks['depth']) == 0  # no context: fusion of its own features


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(contexts=dict(semseg=dict(semseg='tlabel', depth='global'))), KeyError,
     r"one row per task \['semseg', 'depth'\].*missing \['depth'\]"),
    (dict(contexts=dict(semseg=dict(semseg='tlabel'), depth=dict(semseg='none', depth='none'))),
     KeyError, r"contexts\['semseg'\] must name every source.*missing \['depth'\]"),
    (dict(contexts=dict(semseg=dict(semseg='tlabel', depth='glob'),
                        depth=dict(semseg='none', depth='none'))), ValueError,
     r"contexts\['semseg'\]\['depth'\] = 'glob' is not a context type"),
    (dict(aux_channels=dict()), KeyError, r"aux_channels has no entry for \['semseg'\]"),
    (dict(aux_losses=dict(semseg=dict(type='MultiTaskCrossEntropyLoss'),
                          edge=dict(type='BalancedCrossEntropyLoss'))), KeyError,
     r"aux_losses names tasks \['edge'\]"),
    (dict(in_channels=None), KeyError, 'in_channels is not set'),
])
def test_bad_decoder_configs_name_the_fault(kwargs, error, match):
    with pytest.raises(error, match=match):
        tiny_decoder(**kwargs)


def test_input_channels_are_checked():
    with pytest.raises(ValueError, match='input map has 8 channels, in_channels is 16'):
        tiny_decoder()([torch.randn(1, 8, 4, 4)])


def test_size_matches_the_published_atrc_hrnet18():
    """Paper Table 1 (from ATRC): 5.06 M parameters, 25.76 GFLOPs at 3x425x560."""
    get_flops = load_tool('tools/analysis_tools/get_flops.py')
    model = build('nyud').eval()
    params = sum(p.numel() for p in model.parameters()) / 1e6
    assert params == pytest.approx(5.06, rel=0.01)
    flops = get_flops.paper_flops(get_flops._TensorForward(model), torch.zeros(1, 3, 425, 560))
    assert flops / 1e9 == pytest.approx(25.76, rel=0.03)


def test_paper_flops_counts_matrix_products_inside_decoders_only():
    get_flops = load_tool('tools/analysis_tools/get_flops.py')

    class Toy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.product_outside = False
            self.decoder = tiny_decoder(
                contexts=dict(semseg=dict(semseg='none', depth='none'),
                              depth=dict(semseg='none', depth='none')),
                aux_channels=None, aux_losses=None)

        def forward(self, x):
            if self.product_outside:  # e.g. a backbone's attention: not counted
                torch.matmul(x.flatten(2).transpose(1, 2), x.flatten(2))
            return self.decoder([x])

    toy, x = Toy().eval(), torch.zeros(1, 16, 4, 4)
    base = get_flops.paper_flops(toy, x)
    toy.product_outside = True
    assert get_flops.paper_flops(toy, x) == base
    original = toy.decoder.propagate

    def propagate(task_feats, initial):  # task features: (1, 4, 4, 4)
        a, b = task_feats['semseg'], task_feats['depth']
        torch.einsum('nchw,ndhw->ncd', a, b)  # 1 * 4 * 4 * 4 * 4 MACs
        torch.matmul(a.flatten(2), b.flatten(2).transpose(1, 2))  # (1, 4, 4) x 16
        return original(task_feats, initial)

    toy.decoder.propagate = propagate
    assert get_flops.paper_flops(toy, x) - base == 256 + 16 * 16
    assert get_flops._einsum_macs(('nchw,ndhw->ncd', torch.zeros(2, 3, 4, 5),
                                   torch.zeros(2, 6, 4, 5))) == 2 * 3 * 4 * 5 * 6


def test_kdam_keeps_the_atrc_students_initial_losses_and_takes_atrc_as_teacher():
    cfg = Config.fromfile(osp.join(REPO, 'configs/synthetic/kdam_atrc_student_synthetic_nyud.py'))
    cfg.model.student.decoder.dropout_ratio = 0.  # deterministic, to recompute the losses
    # ATRC as the teacher too (untrained here: only the wiring is under test)
    cfg.model.teacher_cfg = 'configs/synthetic/atrc_student_synthetic_nyud.py'
    cfg.model.teacher_ckpt = None
    cfg.model.allow_untrained_teacher = True
    torch.manual_seed(0)
    distiller = MODELS.build(cfg.model).train()
    assert isinstance(distiller.teacher.decoder, ATRCDecoder) and not distiller.teacher.training
    assert not any(p.requires_grad for p in distiller.teacher.parameters())
    samples = random_samples(distiller.student)
    data = distiller.data_preprocessor(
        dict(inputs=[torch.randint(0, 256, (3, *SIZE), dtype=torch.uint8) for _ in samples],
             data_samples=samples), True)
    losses = distiller.loss(**data)
    final, aux = distiller.student.forward_tasks_with_aux(data['inputs'])
    own = distiller.student.loss_by_task_logits(final, data['data_samples'], aux)
    for task in TASKS['nyud']:
        for name in (f'loss_{task}', f'loss_{task}_initial'):
            torch.testing.assert_close(losses[name], own[name])
        assert f'loss_kd_{task}_inter' in losses and f'loss_kd_{task}_intra' in losses
    sum(losses.values()).backward()
    assert distiller.student.decoder.initial_logits['depth'].weight.grad.abs().sum() > 0
