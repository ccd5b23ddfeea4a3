# KDAM: Swin-L multi-task teacher distilled into InvPT-T (InvPT on Swin-T),
# paper Table 2. The teacher checkpoint comes from its own training run:
#   bash tools/dist_train.sh configs/mtl/swinL_nyud.py 8    # -> work_dirs/swinL_nyud/iter_40000.pth
# Schedule, data and runtime are the student's (InvPT's recipe: 40k iters,
# Adam lr 2e-5, wd 1e-6, poly, crop 448x576, total batch 6 over 3 GPUs):
#   bash tools/dist_train.sh configs/kdam/invpt_swinT_nyud.py 3
_base_ = ['../mtl/invpt_swinT_nyud.py', '../_base_/distillers/kdam_nyud.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/mtl/swinL_nyud.py',
    teacher_ckpt='work_dirs/swinL_nyud/iter_40000.pth',
    distill_losses={{_base_.distill_losses}},
    alpha=1.0,
    beta=1.0)
