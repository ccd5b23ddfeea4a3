# plain KD (KL, tau = 3) baseline of paper Table 4 with a Swin-B teacher and a Swin-T student.
#   bash tools/dist_train.sh configs/mtl/mtl_swinB_40k_nyud-425x560.py 8    # -> work_dirs/mtl_swinB_40k_nyud-425x560/iter_40000.pth
_base_ = ['plainkd_swinL-swinT_40k_nyud-425x560.py']
model = dict(
    teacher_cfg='configs/mtl/mtl_swinB_40k_nyud-425x560.py',
    teacher_ckpt='work_dirs/mtl_swinB_40k_nyud-425x560/iter_40000.pth')
