"""tools/misc/print_config.py: the whole config with --cfg-options applied, as mmseg's."""
from mmengine.config import Config
from tool_loader import load_tool

from .utils import REPO_ROOT


def test_prints_merged_config_with_options(capsys, tmp_path):
    tool = load_tool('tools/misc/print_config.py')
    dump = tmp_path / 'dumped.py'
    tool.main([f'{REPO_ROOT}/configs/kdam/swinT_nyud.py', '--cfg-options',
               'train_dataloader.batch_size=3', 'model.alpha=0.5', '--dump', str(dump)])
    printed = capsys.readouterr().out
    assert printed.startswith('Config:\n')
    assert "teacher_cfg='configs/mtl/swinL_nyud.py'" in printed  # the short name's teacher
    assert "work_dir = './work_dirs/kdam/swinT_nyud'" in printed
    dumped = Config.fromfile(str(dump))
    assert dumped.train_dataloader.batch_size == 3 and dumped.model.alpha == 0.5
    assert dumped.model.student.backbone.type == 'SwinTransformer'  # bases merged


def test_graph_builds_the_model(capsys):
    tool = load_tool('tools/misc/print_config.py')
    tool.main([f'{REPO_ROOT}/configs/synthetic/mtl_student_synthetic_nyud.py', '--graph'])
    printed = capsys.readouterr().out
    assert 'Model graph:\nMultiTaskEncoderDecoder(' in printed and 'SwinTransformer(' in printed
