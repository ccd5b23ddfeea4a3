"""tools/analysis_tools/get_flops.py reproduces the paper's Table 1 complexity,
as docs/model_zoo.md claims (3 x 425 x 560 input, the authors' FLOP convention)."""
import re

import pytest

from .utils import PYTHON, run_tool

# Table 1 of the KDAM paper (NYUD-v2), multi-task baselines: (Params M, GFLOPs)
TABLE1_MT = {
    'configs/mtl/mtl_hrnet18_40k_nyud-425x560.py': (4.52, 17.59),
    'configs/mtl/mtl_swinT_40k_nyud-425x560.py': (32.50, 96.29),
    'configs/mtl/mtl_swinS_40k_nyud-425x560.py': (53.82, 116.63),
}


@pytest.mark.parametrize('config', [
    'configs/mtl/mtl_hrnet18_40k_nyud-425x560.py',
    pytest.param('configs/mtl/mtl_swinT_40k_nyud-425x560.py', marks=pytest.mark.slow),
    pytest.param('configs/mtl/mtl_swinS_40k_nyud-425x560.py', marks=pytest.mark.slow),
])
def test_params_and_flops_match_table1(config):
    output = run_tool([PYTHON, 'tools/analysis_tools/get_flops.py', config, '--shape', '425',
                       '560', '--convention', 'authors'])
    assert 'Input shape: (3, 425, 560)' in output
    params = float(re.search(r'^Params: ([\d.]+) M', output, re.M).group(1))
    gflops = float(re.search(r'^FLOPs \(authors\): ([\d.]+) G', output, re.M).group(1))
    assert 'FLOPs (full)' not in output and 'FLOPs (fvcore)' not in output
    paper_params, paper_gflops = TABLE1_MT[config]
    assert params == pytest.approx(paper_params, rel=0.01)
    assert gflops == pytest.approx(paper_gflops, rel=0.02)
