"""tools/analysis_tools/get_flops.py counts attention: fused
scaled_dot_product_attention (timm's ViT) through its own handle, and the
matmuls of InvPT's attention, both against hand computations."""
import re

import timm
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from tool_loader import load_tool

from mmmtl.models.layers import CrossScaleSelfAttention

from .utils import PYTHON, run_tool


def by_operator(model, inputs, handles):
    analyzer = FlopAnalyzer(model, inputs)
    for name, handle in handles.items():
        analyzer.set_op_handle(name, handle)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.by_operator()


class SDPA(nn.Module):

    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v)


def test_fused_attention_is_counted_as_its_two_matmuls():
    get_flops = load_tool('tools/analysis_tools/get_flops.py')
    q, k, v = torch.randn(2, 3, 10, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 5)
    # q @ k^T: 2*3 x 10x7 dots of length 8; attn @ v: 2*3 x 10x5 dots of length 7
    expected = 2 * 3 * 10 * 7 * 8 + 2 * 3 * 10 * 5 * 7
    assert get_flops.fvcore_flops(SDPA(), (q, k, v)) == expected
    plain = FlopAnalyzer(SDPA(), (q, k, v))
    plain.unsupported_ops_warnings(False)
    assert plain.total() == 0  # what fvcore counts without the handle


def test_vit_attention_flops_match_a_hand_count():
    get_flops = load_tool('tools/analysis_tools/get_flops.py')
    vit = timm.create_model('vit_tiny_patch16_224', pretrained=False, num_classes=0,
                            img_size=(64, 96)).eval()
    ops = by_operator(vit, (torch.randn(1, 3, 64, 96), ), get_flops.attention_flop_handles())
    tokens, dims, layers = 4 * 6 + 1, 192, 12
    assert ops['scaled_dot_product_attention'] == layers * 2 * tokens * tokens * dims


def test_invpt_attention_matmuls_match_a_hand_count():
    get_flops = load_tool('tools/analysis_tools/get_flops.py')
    attn = CrossScaleSelfAttention(num_tasks=4, channels=16, num_heads=2, kv_stride=4).eval()
    x = torch.randn(2, 4, 16, 12, 20)
    ops = by_operator(attn, (x, ), get_flops.attention_flop_handles())
    queries = 4 * 6 * 10  # every task's 12x20 map, stride-2 queries
    keys = 4 * 3 * 5  # pooled by 4
    # scores: batch x queries x keys dots of length 16 (all heads); output: the same
    assert ops['matmul'] == 2 * 2 * queries * keys * 16
    assert ops['linear'] == 2 * (2 * queries + 2 * keys) * 16 * 16  # q, proj; k, v


def test_get_flops_reports_both_counts_for_an_invpt_config():
    output = run_tool([PYTHON, 'tools/analysis_tools/get_flops.py',
                       'configs/synthetic/invpt_student_synthetic_nyud.py', '--shape', '64', '96'])
    params = float(re.search(r'Params: ([\d.]+) M', output).group(1))
    authors = float(re.search(r'FLOPs \(authors\): ([\d.]+) G', output).group(1))
    full = float(re.search(r'FLOPs \(full\): ([\d.]+) G', output).group(1))
    fvcore = float(re.search(r'FLOPs \(fvcore\): ([\d.]+) G', output).group(1))
    assert params > 1 and 0 < authors == full and 0 < fvcore  # InvPT: no deformable conv
