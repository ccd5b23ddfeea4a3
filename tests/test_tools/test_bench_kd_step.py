"""tools/benchmarks/bench_kd_step.py: its phases, the ratio, the losses' share and memory."""
import re

from .utils import PYTHON, run_tool

KDAM_CFG = 'configs/synthetic/kdam_student_synthetic_nyud.py'
SCRIPT = 'tools/benchmarks/bench_kd_step.py'


def test_bench_kd_step_prints_every_phase_ratio_share_and_loss_memory():
    output = run_tool([PYTHON, SCRIPT, KDAM_CFG, '--allow-untrained-teacher', '--batch', '1',
                       '--shape', '32', '48', '--iters', '2', '--warmup', '1',
                       '--memory-iters', '1', '--threads', '1'])
    for phase in ('student_step', 'teacher_forward', 'kd_step', 'distill_loss'):
        row = re.search(rf'^{phase}\s+(\S+)\s+(\S+)\s+(\S+)$', output, re.MULTILINE)
        assert row, phase
        assert float(row.group(1)) > 0 and float(row.group(2)) > 0
    ratio = re.search(r'ratio kd_step / \(student_step \+ teacher_forward\): (\S+)', output)
    share = re.search(r'distill loss share of kd_step: (\S+)%', output)
    assert ratio and float(ratio.group(1)) > 0
    assert share and 0 < float(share.group(1)) < 100
    for task in ('semseg', 'depth', 'normal', 'edge'):  # the loss memory table
        row = re.search(rf'^{task}\s+CSDivergenceLoss\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)$',
                        output, re.MULTILINE)
        assert row and float(row.group(1)) > 1, task  # at least the logits' gradient
