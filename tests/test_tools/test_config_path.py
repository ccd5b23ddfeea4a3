"""A config path that does not exist stops every launcher with one line naming the
closest configs, before any process starts (issue 28)."""
import pytest

from mmmtl.utils.config_path import closest_configs, missing_config_message

from .utils import PYTHON, REPO_ROOT, run_tool

TYPO = 'configs/kdam/swinT_nyudv2.py'


def test_closest_configs_name_the_short_and_long_names(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)
    assert closest_configs(TYPO)[0] == 'configs/kdam/swinT_nyud.py'
    assert 'configs/mtl/swinL_nyud.py' in closest_configs('configs/mtl/swinl_nyud.py')
    # the design card's command before the short names existed: the long name is offered
    assert 'configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py' in closest_configs(
        'configs/kdam/kdam_swinL-swinT_nyud.py')
    message = missing_config_message(TYPO)
    assert '\n' not in message and TYPO in message and 'configs/kdam/swinT_nyud.py' in message


@pytest.mark.parametrize('command', [
    ['bash', 'tools/dist_train.sh', TYPO, '8'],
    ['bash', 'tools/dist_test.sh', TYPO, 'ckpt.pth', '8'],
    ['bash', 'tools/slurm_train.sh', 'partition', 'job', TYPO],
    ['bash', 'tools/slurm_test.sh', 'partition', 'job', TYPO, 'ckpt.pth'],
])
def test_launchers_stop_before_any_process(command):
    output = run_tool(command, env_extra=dict(PYTHON=PYTHON), returncode=2)
    lines = [line for line in output.splitlines() if not line.startswith('+')]  # set -x
    assert len(lines) == 1, output
    assert lines[0].startswith(f"error: config '{TYPO}' does not exist")
    assert 'closest existing: configs/kdam/swinT_nyud.py' in lines[0]
    assert 'torch.distributed' not in output and 'srun' not in output


@pytest.mark.parametrize('tool', ['tools/train.py', 'tools/test.py'])
def test_python_tools_stop_with_one_line(tool):
    args = [PYTHON, tool, TYPO] + (['ckpt.pth'] if tool.endswith('test.py') else [])
    output = run_tool(args, returncode=1)
    assert output.strip().splitlines()[-1].startswith(f"error: config '{TYPO}' does not exist")
    assert 'Traceback' not in output and 'configs/kdam/swinT_nyud.py' in output
