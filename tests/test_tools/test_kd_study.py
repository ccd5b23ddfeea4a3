"""tools/analysis_tools/kd_study.py: aggregation against hand-computed numbers,
the method grid, and the quick mode end to end (train/test subprocesses)."""
import csv
import json
import math
import os.path as osp

import cv2
import pytest
from tool_loader import load_tool

from .utils import PYTHON, REPO_ROOT, run_tool

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'kd_study.py')


kd_study = load_tool(TOOL)


def _metrics(miou, rmse, mean_err, odsf):
    return {'semseg/mIoU': miou, 'depth/rmse': rmse, 'normal/mean': mean_err, 'edge/odsF': odsf}


def test_mean_std_hand_computed():
    mean, std = kd_study.mean_std([1.0, 2.0, 4.0])
    # mean 7/3; sample variance ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 42/18
    assert mean == pytest.approx(7 / 3)
    assert std == pytest.approx(math.sqrt(42 / 18))
    mean, std = kd_study.mean_std([5.0])
    assert mean == 5.0 and math.isnan(std)
    with pytest.raises(ValueError):
        kd_study.mean_std([])


def test_aggregate_hand_computed():
    results = {
        'baseline': {0: _metrics(40.0, 0.50, 20.0, 50.0), 1: _metrics(20.0, 1.00, 25.0, 40.0)},
        'kdam': {0: _metrics(44.0, 0.45, 19.0, 55.0), 1: _metrics(20.0, 1.10, 25.0, 40.0)},
    }
    # seed 0: semseg +10 %, depth +10 %, normal +5 %, edge +10 % -> Δm = 35 / 4 = 8.75
    # seed 1: semseg 0, depth -10 %, normal 0, edge 0 -> Δm = -10 / 4 = -2.5
    dms = kd_study.per_seed_delta_m(results)
    assert dms['kdam'][0] == pytest.approx(8.75)
    assert dms['kdam'][1] == pytest.approx(-2.5)
    assert dms['baseline'] == {0: 0.0, 1: 0.0}
    table = kd_study.aggregate(results)
    mean, std = table['kdam']['delta_m']
    assert mean == pytest.approx(3.125)
    assert std == pytest.approx(abs(8.75 + 2.5) / math.sqrt(2))  # two values: |a - b| / sqrt 2
    assert table['kdam']['semseg/mIoU'] == pytest.approx((32.0, math.sqrt(288.0)))
    assert table['kdam']['depth/rmse'][0] == pytest.approx(0.775)
    assert table['baseline']['delta_m'] == (0.0, 0.0)


def test_paired_differences_hand_computed():
    """Three seeds; the 95 % t interval uses t(0.975, 2) = 4.302653 (tables)."""
    results = {
        'baseline': {s: _metrics(40.0, 0.50, 20.0, 50.0) for s in range(3)},
        'kdam': {0: _metrics(44.0, 0.50, 20.0, 50.0), 1: _metrics(42.0, 0.50, 20.0, 50.0),
                 2: _metrics(40.0, 0.50, 20.0, 50.0)},
        'kdam_cached': {0: _metrics(42.0, 0.50, 20.0, 50.0), 1: _metrics(42.0, 0.50, 20.0, 50.0),
                        2: _metrics(42.0, 0.50, 20.0, 50.0)},
    }
    diffs = kd_study.paired_differences(results, 'kdam_cached', 'kdam')
    miou = diffs['semseg/mIoU']
    assert miou['per_seed'] == {0: -2.0, 1: 0.0, 2: 2.0}
    # mean 0, sample std 2 -> half width 4.302653 * 2 / sqrt(3)
    half = 4.302653 * 2 / math.sqrt(3)
    assert miou['mean'] == pytest.approx(0.0)
    assert (miou['low'], miou['high']) == pytest.approx((-half, half), rel=1e-6)
    # Δm of kdam: +2.5, +1.25, 0 (semseg only, / 4); of cached: +1.25 each
    assert diffs['delta_m']['per_seed'] == pytest.approx({0: -1.25, 1: 0.0, 2: 1.25})
    assert diffs['depth/rmse']['per_seed'] == {0: 0.0, 1: 0.0, 2: 0.0}
    versus_baseline = kd_study.paired_differences(results, 'kdam', 'baseline')['delta_m']
    assert versus_baseline['mean'] == pytest.approx(1.25)
    half = 4.302653 * 1.25 / math.sqrt(3)  # Δm 2.5, 1.25, 0: sample std 1.25
    assert versus_baseline['low'] == pytest.approx(1.25 - half, rel=1e-6)
    methods = kd_study.study_methods(quick=False)
    assert kd_study.comparison_pairs(methods, ['baseline', 'kdam', 'kdam_cached']) == [
        ('kdam_cached', 'kdam'), ('kdam', 'baseline'), ('kdam_cached', 'baseline')]
    labels = {name: name for name in results}
    table = kd_study.paired_table(results, [('kdam_cached', 'kdam')], labels)
    assert f'+0.00 [{-half:+.2f}, {half:+.2f}]' in table and '-1.25, +0.00, +1.25' in table
    with pytest.raises(KeyError, match='share no seed'):
        kd_study.paired_differences({**results, 'x': {7: _metrics(1, 1, 1, 1)}}, 'x', 'kdam')


def test_aggregate_errors_name_the_missing_run():
    results = {'baseline': {0: _metrics(40.0, 0.5, 20.0, 50.0)},
               'kd': {1: _metrics(40.0, 0.5, 20.0, 50.0)}}
    with pytest.raises(KeyError, match="seed 1 of 'kd'"):
        kd_study.aggregate(results)
    with pytest.raises(KeyError, match='reference'):
        kd_study.aggregate({'kd': results['kd']})


def test_choose_on_val_uses_the_family_only():
    methods = kd_study.study_methods(quick=False)
    val_dm = {name: (0.0, 0.0) for name in methods}
    val_dm['kd_tau8'] = (3.0, 1.0)
    val_dm['kdam_beta2'] = (5.0, 1.0)
    val_dm['dist_depth1'] = (9.0, 1.0)  # best, but of another family
    assert kd_study.choose_on_val(val_dm, methods, 'kd') == 'kd_tau8'
    assert kd_study.choose_on_val(val_dm, methods, 'kdam') == 'kdam_beta2'
    assert kd_study.choose_on_val(val_dm, methods, 'dist') == 'dist_depth1'


def test_methods_express_the_paper_settings():
    methods = kd_study.study_methods(quick=False)
    assert {'teacher', 'baseline', 'kd', 'dist', 'kdam_inter', 'kdam_intra', 'kdam'} <= set(
        methods)
    assert 'model.distill_losses.edge.type=KLDivergenceLoss' in methods['kd'].options
    assert 'model.distill_losses.semseg.tau=3.0' in methods['kd'].options
    assert 'model.distill_losses.depth.intra_weight=0.0' in methods['kdam_inter'].options
    assert 'model.distill_losses.depth.inter_weight=0.0' in methods['kdam_intra'].options
    assert 'model.beta=2.0' in methods['kdam_beta2'].options
    assert {m.family for m in methods.values() if '_tau' in m.name or '_beta' in m.name} == {
        'kd', 'kdam'}
    # DIST's depth weight (docs/distillation.md): the chosen one and the other candidates
    weight = kd_study.DIST_DEPTH_WEIGHT
    assert f'model.distill_losses.depth.loss_weight={weight}' in methods['dist'].options
    assert 'model.distill_losses.edge.inter_weight=0.0' in methods['dist'].options
    assert {m.name for m in methods.values() if m.family == 'dist'} == {'dist'} | {
        f'dist_depth{w:g}' for w in kd_study.DIST_DEPTH_WEIGHTS if w != weight}


@pytest.mark.slow
def fake_table():
    """Study-like results: long method names, one metric far apart from the others."""
    table = {}
    for index, name in enumerate(['teacher', 'baseline', 'kd', 'dist', 'kdam_inter',
                                  'kdam_intra', 'kdam']):
        row = {key: (10.0 + index, 0.5) for key in kd_study.COLUMNS}
        row['delta_m'] = (-100.0 if name == 'dist' else float(index), float('nan'))
        table[name] = row
    return table


def test_plot_names_every_method_in_full_at_page_width(tmp_path):
    labels = {n: m.label for n, m in kd_study.study_methods(quick=False).items()}
    table = fake_table()
    figure = kd_study.study_figure(table, labels)
    figure.canvas.draw()
    names = [text.get_text() for text in figure.axes[0].get_yticklabels()]
    assert names == [labels[n] for n in table]  # in full, e.g. 'KDAM inter+intra (τ=1)'
    assert len(figure.axes) == 5  # four metrics and Δm, the names written once
    assert not any(label.get_visible() for axis in figure.axes[1:]
                   for label in axis.get_yticklabels())
    # written with a tight box: every name inside the picture, at most a page (900 px) wide
    path = tmp_path / 'summary.png'
    kd_study.plot(table, labels, str(path))
    picture = cv2.imread(str(path))
    assert 600 <= picture.shape[1] <= 900
    assert figure.get_size_inches()[0] * figure.dpi <= 900


def test_plot_only_redraws_from_summary_csv(tmp_path):
    table = fake_table()
    with open(tmp_path / 'summary.csv', 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['split', 'method', 'seed'] + list(kd_study.COLUMNS) + ['delta_m'])
        for name, row in table.items():
            for stat, index in (('mean', 0), ('std', 1)):
                values = [row[key][index] for key in list(kd_study.COLUMNS) + ['delta_m']]
                writer.writerow(['test', name, stat] + values)
                writer.writerow(['val', name, stat] + [0.0] * len(values))
            writer.writerow(['test', name, 0] + [1.0] * 5)
    read = kd_study.read_summary_csv(str(tmp_path / 'summary.csv'))
    assert list(read) == list(table)
    assert read['dist']['delta_m'][0] == -100.0 and math.isnan(read['kd']['delta_m'][1])
    assert read['kdam']['depth/rmse'] == (16.0, 0.5)
    kd_study.main(['--out', str(tmp_path), '--plot-only'])
    assert (tmp_path / 'summary.png').stat().st_size > 0
    with pytest.raises(FileNotFoundError, match='summary.csv'):
        kd_study.main(['--out', str(tmp_path / 'none'), '--plot-only'])


def test_quick_study_end_to_end(tmp_path):
    out = tmp_path / 'study'
    cmd = [PYTHON, TOOL, '--quick', '--methods', 'kd', 'kdam', 'kdam_cached', '--jobs', '2',
           '--out', str(out)]
    log = run_tool(cmd, timeout=1800)
    assert '10 runs (0 already finished)' in log
    summary = (out / 'summary.md').read_text()
    for label in ('teacher (larger)', 'student baseline', 'plain KD (KL, τ=3)',
                  'KDAM inter+intra (τ=1)', 'Chosen for plain KD', 'Chosen for KDAM',
                  'KDAM from a teacher cache (τ=1) − KDAM inter+intra (τ=1)',
                  'plain KD (KL, τ=3) − student baseline'):
        assert label in summary
    # the cached runs read the cache of their seed's teacher
    for seed in (0, 1):
        manifest = json.loads((out / 'runs' / f'seed{seed}' / 'teacher_cache' /
                               'manifest.json').read_text())
        assert manifest['complete'] and manifest['teacher']['checkpoint'].startswith(
            str(out / 'runs' / f'seed{seed}' / 'teacher'))
    assert (out / 'summary.png').stat().st_size > 0
    with open(out / 'summary.csv') as handle:
        rows = list(csv.DictReader(handle))
    by_key = {(r['split'], r['method'], r['seed']): r for r in rows}
    # The csv's mean / Δm agree with the per-run metrics written by tools/test.py.
    runs = {(m, s): json.loads((out / 'runs' / f'seed{s}' / m / 'result.json').read_text())
            for m in ('baseline', 'kdam') for s in (0, 1)}
    for m in ('baseline', 'kdam'):
        values = [runs[(m, s)]['test']['semseg/mIoU'] for s in (0, 1)]
        assert float(by_key[('test', m, 'mean')]['semseg/mIoU']) == pytest.approx(
            sum(values) / 2)
    assert float(by_key[('test', 'baseline', '0')]['delta_m']) == 0.0
    # Resumable: a second call trains nothing and reports the same numbers.
    log = run_tool(cmd, timeout=600)
    assert '10 runs (10 already finished)' in log
    with open(out / 'summary.csv') as handle:
        assert list(csv.DictReader(handle)) == rows
    # A seed fully determines a run: the baseline of seed 0 again, in a new folder.
    again = tmp_path / 'again'
    run_tool([PYTHON, TOOL, '--quick', '--methods', 'baseline', '--seeds', '0', '--out',
              str(again)], timeout=900)
    first = runs[('baseline', 0)]
    second = json.loads((again / 'runs' / 'seed0' / 'baseline' / 'result.json').read_text())
    assert second['test'] == first['test']
    assert second['val'] == first['val']


def test_study_refuses_to_mix_data(tmp_path):
    args = kd_study.parse_args(['--quick', '--out', str(tmp_path)])
    study = kd_study.Study(args)
    (tmp_path / 'data' / 'gt_sets').mkdir(parents=True)
    (tmp_path / 'data' / 'gt_sets' / 'test.txt').write_text('test_00000\n')
    (tmp_path / 'data' / 'study_data.json').write_text(json.dumps(dict(difficulty='easy')))
    with pytest.raises(RuntimeError, match='other data'):
        study.make_data()


def test_study_adds_teacher_and_baseline_and_rejects_unknown(tmp_path):
    study = kd_study.Study(kd_study.parse_args(['--methods', 'dist', '--out', str(tmp_path)]))
    assert list(study.methods) == ['teacher', 'baseline', 'dist']
    assert study.args.seeds == [0, 1, 2] and study.args.iters == 500
    with pytest.raises(SystemExit, match='unknown method'):
        kd_study.Study(kd_study.parse_args(['--methods', 'fitnet', '--out', str(tmp_path)]))


def test_teacher_trains_longer_than_every_student(tmp_path):
    args = kd_study.parse_args(['--methods', 'kdam', '--out', str(tmp_path)])
    assert (args.iters, args.teacher_iters) == (500, 1500)
    study = kd_study.Study(args)
    teacher = study.common_options(0, args.teacher_iters)
    student = study.common_options(0)
    assert 'train_cfg.max_iters=1500' in teacher and 'param_scheduler.0.end=1500' in teacher
    assert 'train_cfg.max_iters=500' in student and 'param_scheduler.0.end=500' in student
    args = kd_study.parse_args(['--iters', '40', '--teacher-iters', '50', '--out', str(tmp_path)])
    assert (args.iters, args.teacher_iters) == (40, 50)


def test_default_test_images_are_the_size_of_the_training_crops(tmp_path):
    """Every model is trained on crops and tested on whole images: the study's
    images must be the crop's size, else the depth level on whole images
    drifts with the seed (docs/model_zoo.md)."""
    study = kd_study.Study(kd_study.parse_args(['--out', str(tmp_path)]))
    assert study.size == (64, 96)
    for config in (kd_study.TEACHER_CFG, kd_study.STUDENT_CFG, kd_study.KDAM_CFG):
        assert kd_study.training_crop(config) == study.size, config
    args = kd_study.parse_args(['--size', '48', '80', '--out', str(tmp_path)])
    assert kd_study.Study(args).size == (48, 80)
