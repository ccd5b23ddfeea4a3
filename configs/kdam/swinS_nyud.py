# Short name of kdam_swinL-swinS_40k_nyud-425x560.py: KDAM, Swin-L teacher -> swinS student on
# NYUD-v2, paper Table 1. Train the teacher first, then this:
#   bash tools/dist_train.sh configs/mtl/swinL_nyud.py 8    # -> work_dirs/mtl/swinL_nyud/
#   bash tools/dist_train.sh configs/kdam/swinS_nyud.py 8    # -> work_dirs/kdam/swinS_nyud/
_base_ = ['./kdam_swinL-swinS_40k_nyud-425x560.py']
model = dict(
    teacher_cfg='configs/mtl/swinL_nyud.py',
    # the teacher run's work dir: the checkpoint its last_checkpoint file names
    teacher_ckpt='work_dirs/mtl/swinL_nyud')
work_dir = './work_dirs/kdam/swinS_nyud'
