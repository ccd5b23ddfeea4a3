"""Every distillation config builds its model and runs one forward (CPU, 32x32).

Pretrained weights are never fetched (``init_weights`` is not called) and the
teacher is untrained (``allow_untrained_teacher=True``). The ablation configs
only change distillation losses / weights of ``configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py``
and ``configs/kd_baselines/plainkd_swinL-swinT_40k_nyud-425x560.py``: their networks are checked
to be those configs' networks and their losses are built and run.
"""
import glob
import os.path as osp

import pytest
import torch
from config_names import is_short_name
from mmengine.config import Config
from mmengine.structures import PixelData
from tool_loader import load_tool

from mmmtl.registry import MODELS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import get_task_spec

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
ABLATIONS = sorted(glob.glob(osp.join(REPO_ROOT, 'configs/kdam/ablations/*.py')))
FULL = sorted(
    path for path in glob.glob(osp.join(REPO_ROOT, 'configs/kdam/*.py')) +
    glob.glob(osp.join(REPO_ROOT, 'configs/kd_baselines/*.py')) +
    glob.glob(osp.join(REPO_ROOT, 'configs/synthetic/kdam_*.py')) if not is_short_name(path))
SIZE = (32, 32)


def rel(path: str) -> str:
    return osp.relpath(path, REPO_ROOT)


def load(path: str) -> Config:
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'KDAMDistiller', rel(path)
    cfg.model.allow_untrained_teacher = True
    return cfg


def random_batch(student, batch: int = 1) -> dict:
    gen = torch.Generator().manual_seed(0)
    height, width = SIZE
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, height, width), generator=gen, dtype=torch.uint8))
        sample = MultiTaskDataSample(metainfo=dict(img_shape=SIZE, ori_shape=SIZE))
        for task in student.tasks:
            spec = get_task_spec(task)
            if spec.kind == 'label':
                gt = torch.randint(0, student.task_channels[task], (1, *SIZE),
                                   generator=gen)
            elif spec.kind == 'binary':
                gt = torch.randint(0, 2, (1, *SIZE), generator=gen)
            elif spec.kind == 'depth':
                gt = torch.rand(1, *SIZE, generator=gen) + 0.5
            else:
                gt = torch.nn.functional.normalize(torch.randn(3, *SIZE, generator=gen), dim=0)
            setattr(sample, spec.gt_key, PixelData(data=gt))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def test_configs_are_found():
    names = {rel(path) for path in FULL}
    for name in ('configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py',
                 'configs/kdam/kdam_swinL-swinS_40k_nyud-425x560.py',
                 'configs/kdam/kdam_swinL-hrnet18_40k_nyud-425x560.py',
                 'configs/kdam/kdam_swinB-swinT_40k_nyud-425x560.py',
                 'configs/kdam/kdam_swinL-swinT_40k_pascal-512x512.py',
                 'configs/kdam/kdam_swinL-swinS_40k_pascal-512x512.py',
                 'configs/kdam/kdam_swinL-hrnet18_40k_pascal-512x512.py',
                 'configs/kd_baselines/plainkd_swinL-swinT_40k_nyud-425x560.py',
                 'configs/kd_baselines/dist_swinL-swinT_40k_nyud-425x560.py',
                 'configs/synthetic/kdam_student_synthetic_nyud.py',
                 'configs/synthetic/kdam_student_synthetic_pascal.py'):
        assert name in names
    assert len(ABLATIONS) == 2 + 7 + 7  # inter/intra only, tau and beta sweeps


@pytest.mark.parametrize('path', FULL, ids=rel)
def test_config_builds_and_runs_forward(path, tmp_path):
    cfg = load(path)
    cached = cfg.model.get('teacher_cache') is not None
    if cached:  # a cache of the run's teacher (manifest only), outputs in the batch
        bench = load_tool('tools/benchmarks/bench_kd_step.py')
        channels = bench.cache_for_run(cfg, str(tmp_path))
        cfg.model.teacher_cache = str(tmp_path)
    torch.manual_seed(0)
    distiller = MODELS.build(cfg.model)
    assert set(distiller.distill_losses) == set(distiller.student.tasks)
    assert cfg.model.alpha == 1.0
    assert (distiller.teacher is None) == cached
    distiller.train()
    batch = random_batch(distiller.student, batch=2)
    if cached:
        bench.add_teacher_outputs(batch, channels, 0.25)
    data = distiller.data_preprocessor(batch, True)
    with torch.no_grad():
        losses = distiller.loss(**data)
    for task in distiller.student.tasks:
        assert torch.isfinite(losses[f'loss_{task}']), task
        kd_terms = [k for k in losses if k.startswith(f'loss_kd_{task}_')]
        assert kd_terms and all(torch.isfinite(losses[k]) for k in kd_terms), task


@pytest.mark.parametrize('pair', ['swinL-swinT', 'swinL-swinS', 'swinB-swinT'])
def test_dist_configs_use_the_depth_weight_chosen_by_the_study(pair):
    """DIST's depth weight is the one chosen on the synthetic study's val split."""
    study = load_tool('tools/analysis_tools/kd_study.py')
    losses = load(osp.join(REPO_ROOT, f'configs/kd_baselines/dist_{pair}_40k_nyud-425x560.py')
                  ).model.distill_losses
    assert losses.depth.loss_weight == study.DIST_DEPTH_WEIGHT
    assert losses.normal.get('loss_weight', 1.0) == 1.0


def _networks(cfg: Config) -> tuple:
    return cfg.model.student, cfg.model.get('teacher'), cfg.model.get('teacher_cfg')


@pytest.mark.parametrize('path', ABLATIONS, ids=rel)
def test_ablation_config_changes_only_the_distillation(path):
    cfg = load(path)
    name = osp.basename(path)
    base_path = ('configs/kd_baselines/plainkd_swinL-swinT_40k_nyud-425x560.py'
                 if name.startswith('plainkd') else
                 'configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py')
    base = load(osp.join(REPO_ROOT, base_path))
    assert _networks(cfg) == _networks(base)
    losses = {task: MODELS.build(loss) for task, loss in cfg.model.distill_losses.items()}
    assert set(losses) == set(base.model.distill_losses)
    student = torch.randn(1, 40, 8, 8, requires_grad=True)
    terms = losses['semseg'](student, torch.randn(1, 40, 8, 8))
    sum(terms.values()).backward()
    assert torch.isfinite(student.grad).all()
    if name.startswith('kdam-inter-only'):
        assert all(set(loss.term_names()) == {'inter'} for loss in losses.values())
    elif name.startswith('kdam-intra-only'):
        assert all(set(loss.term_names()) == {'intra'} for loss in losses.values())
    elif name.startswith('plainkd-tau'):
        tau = float(name[len('plainkd-tau'):].split('_')[0].replace('p', '.'))
        assert all(loss.tau == tau and type(loss).__name__ == 'KLDivergenceLoss'
                   for loss in losses.values())
        assert cfg.model.beta == 1.0
    else:
        assert name.startswith('plainkd-beta'), name
        beta = float(name[len('plainkd-beta'):].split('_')[0].replace('p', '.'))
        assert cfg.model.beta == beta
        assert all(loss.tau == 3.0 for loss in losses.values())
