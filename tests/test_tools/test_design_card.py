"""The command the project is known by starts training (issue 28):

    bash tools/dist_train.sh configs/kdam/swinT_nyud.py 8

here with one CPU process, an untrained Swin-L teacher, no pretrained download,
BN for SyncBN, generated data of the NYUD-v2 layout and 32x32 crops, for two
iterations."""
import pytest

from .utils import PYTHON, free_port, run_tool, synthetic_options

CONFIG = 'configs/kdam/swinT_nyud.py'
ITERS = 2


@pytest.mark.slow
def test_design_card_command_trains(synthetic_nyud_root, tmp_path):
    work_dir = tmp_path / 'work_dir'
    shrink = [
        'model.allow_untrained_teacher=True',
        'model.student.backbone.init_cfg=None',  # no ImageNet download
        # the heads' SyncBN needs GPUs: DDP refuses it on CPU (as tests/test_tools/
        # test_dist_train.py, which uses GN for the same reason)
        'model.student.shared_head_cfg.norm_cfg.type=BN',
        'train_dataloader.dataset.pipeline.3.crop_size=(32,32)',  # MultiTaskRandomCrop
        'train_dataloader.dataset.pipeline.5.size=(32,32)',  # MultiTaskPad
        'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
    ]
    output = run_tool(
        ['bash', 'tools/dist_train.sh', CONFIG, '1', '--work-dir', str(work_dir),
         '--cfg-options', *synthetic_options(synthetic_nyud_root, max_iters=ITERS,
                                              validate=False, batch_size=1), *shrink],
        env_extra=dict(PYTHON=PYTHON, PORT=str(free_port())))
    log = output
    assert 'teacher is untrained (allow_untrained_teacher=True)' in log
    assert "teacher_cfg='configs/mtl/swinL_nyud.py'" in log
    assert f'Iter(train) [{ITERS}/{ITERS}]' in log and 'loss_kd_semseg_inter' in log
    assert (work_dir / f'iter_{ITERS}.pth').is_file()
