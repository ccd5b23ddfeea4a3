# KDAM: Swin-L multi-task teacher distilled into InvPT-T (InvPT on Swin-T),
# paper Table 2. The teacher checkpoint comes from its own training run:
#   bash tools/dist_train.sh configs/mtl/mtl_swinL_40k_nyud-425x560.py 8    # -> work_dirs/mtl_swinL_40k_nyud-425x560/iter_40000.pth
# Schedule, data and runtime are the student's (InvPT's recipe: 40k iters,
# Adam lr 2e-5, wd 1e-6, poly, crop 448x576, total batch 6 over 3 GPUs):
#   bash tools/dist_train.sh configs/kdam/kdam_swinL-invpt-swinT_40k_nyud-448x576.py 3
_base_ = ['../mtl/invpt_swinT_40k_nyud-448x576.py']
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
