"""get_flops.py counts deformable convolution and DeMT's task attention: hand computations."""
import os.path as osp
import re

import pytest
import torch
import torch.nn as nn
import torchvision.ops
from mmcv.ops import ModulatedDeformConv2dPack
from tool_loader import load_tool

from mmmtl.models.layers import ChannelDeformConv2d, TaskAttention

from .utils import PYTHON, REPO_ROOT, run_tool

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'get_flops.py')

# A 3x3 deformable convolution, 6 -> 4 channels in 2 groups, 3 offset groups,
# padding 1, on a (2, 6, 5, 7) input: 2 * 5 * 7 = 70 output locations.
LOCATIONS = 70
CONV = LOCATIONS * 4 * 3 * 9  # C_out * C_in/groups * kh * kw per location = 7560
SAMPLES = LOCATIONS * 6 * 9  # every input channel at every kernel point = 3780
BIAS = LOCATIONS * 4  # 280
DEFORM = CONV + 4 * SAMPLES + BIAS  # bilinear: 4 taps per sampled value -> 22960
MODULATED = DEFORM + SAMPLES  # one mask multiplication per sampled value -> 26740


@pytest.fixture(scope='module')
def get_flops():
    return load_tool(SCRIPT)


class TorchvisionDeformConv(nn.Module):
    """torchvision.ops.deform_conv2d with fixed offsets (and mask)."""

    def __init__(self, with_mask: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.weight = nn.Parameter(torch.randn(4, 3, 3, 3))
        self.bias = nn.Parameter(torch.randn(4))
        self.register_buffer('offset', torch.randn(2, 2 * 3 * 9, 5, 7))
        self.register_buffer('mask', torch.rand(2, 3 * 9, 5, 7) if with_mask else None)

    def forward(self, x):
        return torchvision.ops.deform_conv2d(x, self.offset, self.weight, self.bias, padding=1,
                                             mask=self.mask)


class CallWithOffsets(nn.Module):
    """Call a torchvision DeformConv2d module with fixed offsets and mask."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torchvision.ops.DeformConv2d(6, 4, 3, padding=1, groups=2)
        self.register_buffer('offset', torch.randn(2, 2 * 3 * 9, 5, 7))
        self.register_buffer('mask', torch.rand(2, 3 * 9, 5, 7))

    def forward(self, x):
        return self.conv(x, self.offset, self.mask)


def test_deform_conv_macs_by_hand(get_flops):
    shapes = ((2, 6, 5, 7), (4, 3, 3, 3), (2, 4, 5, 7))
    assert get_flops.deform_conv_macs(*shapes) == DEFORM == 22960
    assert get_flops.deform_conv_macs(*shapes, with_mask=True) == MODULATED == 26740
    assert get_flops.deform_conv_macs(*shapes, with_bias=False) == DEFORM - BIAS


@pytest.mark.parametrize('with_mask', [False, True])
def test_fvcore_handle_of_torchvision_deform_conv2d(get_flops, with_mask):
    x = torch.randn(2, 6, 5, 7)
    expected = MODULATED if with_mask else DEFORM
    assert get_flops.fvcore_flops(TorchvisionDeformConv(with_mask), x) == expected


def test_full_convention_counts_deformable_modules(get_flops):
    x = torch.randn(2, 6, 5, 7)
    assert get_flops.module_flops(CallWithOffsets(), x) == MODULATED

    # mmcv's modulated deformable conv (groups 1): its offset / mask conv
    # (6 -> 27 channels, 3x3, bias) plus the deformable convolution
    mmcv_conv = ModulatedDeformConv2dPack(6, 4, 3, padding=1)
    offsets_conv = LOCATIONS * 27 * 6 * 9 + LOCATIONS * 27
    deform = LOCATIONS * 4 * 6 * 9 + 5 * SAMPLES + BIAS
    assert get_flops.module_flops(mmcv_conv, x) == offsets_conv + deform

    # DeMT's 1x1 per-channel deformable conv (6 -> 4) and its offset predictor:
    # a 3x3 conv 6 -> 18 window displacements, a grouped 3x3 conv 18 -> 12 offsets
    channel_conv = ChannelDeformConv2d(6, 4)
    deform = LOCATIONS * 4 * 6 + 4 * LOCATIONS * 6 + BIAS
    displacement = LOCATIONS * 18 * 6 * 9 + LOCATIONS * 18
    offsets = LOCATIONS * 12 * 9 * 9 + LOCATIONS * 12
    assert get_flops.module_flops(channel_conv, x) == deform + displacement + offsets == 141820
    # the authors' convention: the counter does not see the deformable op, only the convs
    # that predict its offsets
    assert get_flops.module_flops(channel_conv, x, deformable_sampling=False) == \
        displacement + offsets
    assert get_flops.module_flops(mmcv_conv, x, deformable_sampling=False) == offsets_conv


class QueryOneTask(nn.Module):

    def __init__(self) -> None:
        super().__init__()
        self.attn = TaskAttention(8, 2)

    def forward(self, tokens):
        return self.attn(tokens[:, :1], tokens)


def test_task_attention_counts(get_flops):
    tokens = torch.randn(5, 4, 8)  # 5 pixels, 4 tasks, 8 channels, 2 heads of 4
    # authors' and full convention: four 8x8 projections (+ bias) for the one query of each pixel
    assert get_flops.module_flops(QueryOneTask(), tokens) == 5 * 4 * (8 * 8 + 8) == 1440
    # fvcore: the projections without bias (query, key and value moved onto the
    # query, output) plus q.b_k and the two attention matmuls over 4 keys x 2 heads
    projections = 4 * 5 * 8 * 8
    key_bias = 5 * 2 * 4
    attention = 2 * 5 * 2 * 4 * 8
    assert get_flops.fvcore_flops(QueryOneTask(), tokens) == projections + key_bias + attention


def test_get_flops_tool_on_the_synthetic_demt_config():
    output = run_tool([PYTHON, SCRIPT, 'configs/synthetic/demt_student_synthetic_nyud.py',
                       '--shape', '256', '384'])  # large enough to tell the counts apart
    params = float(re.search(r'Params: ([\d.]+) M', output).group(1))
    counts = {name: float(value) for name, value in
              re.findall(r'^FLOPs \((\w+)\): ([\d.]+) G', output, re.M)}
    assert params == pytest.approx(0.93, abs=0.01)
    assert list(counts) == ['authors', 'full', 'fvcore']
    assert 0 < counts['authors'] < counts['full'] <= counts['fvcore']  # deformable sampling
    assert 'paper convention' not in output
