# KDAM with a Swin-B teacher and a Swin-T student (paper Table 4).
#   bash tools/dist_train.sh configs/mtl/swinB_nyud.py 8    # -> work_dirs/swinB_nyud/iter_40000.pth
_base_ = ['./swinT_nyud.py']
model = dict(
    teacher_cfg='configs/mtl/swinB_nyud.py',
    teacher_ckpt='work_dirs/swinB_nyud/iter_40000.pth')
