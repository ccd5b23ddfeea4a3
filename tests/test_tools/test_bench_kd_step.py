"""tools/benchmarks/bench_kd_step.py: its phases, ratios and the dot-product floor."""
import re

import torch
from tool_loader import load_tool

from mmmtl.models.losses import CSDivergenceLoss, KLDivergenceLoss

from .utils import PYTHON, run_tool

KDAM_CFG = 'configs/synthetic/kdam_student_synthetic_nyud.py'
SCRIPT = 'tools/benchmarks/bench_kd_step.py'


def test_floor_loss_logs_the_replaced_terms_with_a_dot_product_gradient():
    bench = load_tool(SCRIPT)
    torch.manual_seed(0)
    student = torch.randn(2, 5, 4, 6, requires_grad=True)
    teacher = torch.randn(2, 5, 4, 6)
    for replaced, names in ((CSDivergenceLoss(), {'inter', 'intra'}),
                            (CSDivergenceLoss(intra_weight=0), {'inter'}),
                            (KLDivergenceLoss(), {'kl'})):
        student.grad = None
        terms = bench.DotProductLoss(replaced)(student, teacher)
        assert set(terms) == names == set(replaced.term_names())
        sum(terms.values()).backward()
        # d/ds of mean over the N*H*W pixels of sum_c s*t, once per term
        expected = len(names) * teacher / (2 * 4 * 6)
        torch.testing.assert_close(student.grad, expected)


def test_bench_kd_step_prints_every_phase_ratio_and_floor():
    output = run_tool([PYTHON, SCRIPT, KDAM_CFG, '--allow-untrained-teacher', '--batch', '1',
                       '--shape', '32', '48', '--iters', '2', '--warmup', '1',
                       '--memory-iters', '1', '--threads', '1', '--floor'])
    for phase in ('student_step', 'teacher_forward', 'kd_step', 'distill_loss',
                  'kd_step_floor'):
        row = re.search(rf'^{phase}\s+(\S+)\s+(\S+)\s+(\S+)$', output, re.MULTILINE)
        assert row, phase
        assert float(row.group(1)) > 0 and float(row.group(2)) > 0
    ratio = re.search(r'ratio kd_step / \(student_step \+ teacher_forward\): (\S+)', output)
    floor = re.search(r'floor ratio kd_step_floor / \(student_step \+ teacher_forward\): (\S+)',
                      output)
    assert ratio and floor and float(ratio.group(1)) > 0 and float(floor.group(1)) > 0
    for task in ('semseg', 'depth', 'normal', 'edge'):  # the loss memory table
        assert re.search(rf'^{task}\s+CSDivergenceLoss\s', output, re.MULTILINE), task
