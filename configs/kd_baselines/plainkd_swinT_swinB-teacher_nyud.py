# plain KD (KL, tau = 3) baseline of paper Table 4 with a Swin-B teacher and a Swin-T student.
#   bash tools/dist_train.sh configs/mtl/swinB_nyud.py 8    # -> work_dirs/swinB_nyud/iter_40000.pth
_base_ = ['./plainkd_swinT_nyud.py']
model = dict(
    teacher_cfg='configs/mtl/swinB_nyud.py',
    teacher_ckpt='work_dirs/swinB_nyud/iter_40000.pth')
