# Short name of kdam_swinL-hrnet18_40k_nyud-425x560.py: KDAM, Swin-L teacher -> hrnet18 student on
# NYUD-v2, paper Table 1. Train the teacher first, then this:
#   bash tools/dist_train.sh configs/mtl/swinL_nyud.py 8    # -> work_dirs/mtl/swinL_nyud/
#   bash tools/dist_train.sh configs/kdam/hrnet18_nyud.py 8    # -> work_dirs/kdam/hrnet18_nyud/
_base_ = ['./kdam_swinL-hrnet18_40k_nyud-425x560.py']
model = dict(
    teacher_cfg='configs/mtl/swinL_nyud.py',
    # the teacher run's work dir: the checkpoint its last_checkpoint file names
    teacher_ckpt='work_dirs/mtl/swinL_nyud')
work_dir = './work_dirs/kdam/hrnet18_nyud'
