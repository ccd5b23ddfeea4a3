# KDAM: Swin-L teacher distilled into a multi-task student (paper Table 1).
# The teacher checkpoint comes from its own training run:
#   bash tools/dist_train.sh configs/mtl/mtl_swinL_40k_nyud-425x560.py 8    # -> work_dirs/mtl_swinL_40k_nyud-425x560/iter_40000.pth
# Schedule, data and runtime are the student baseline's (40k iters, poly,
# SGD lr 1e-3 m 0.9 wd 5e-4, total batch 8 over 8 GPUs).
_base_ = ['../mtl/mtl_hrnet18_40k_nyud-425x560.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/mtl/mtl_swinL_40k_nyud-425x560.py',
    teacher_ckpt='work_dirs/mtl_swinL_40k_nyud-425x560/iter_40000.pth',
    # KDAM's CS divergence per task (paper Sec. 3.3); `spatial` for the
    # regression tasks is our choice, see docs/distillation.md.
    distill_losses=dict(
        semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        depth=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0)),
    alpha=1.0,
    beta=1.0)
