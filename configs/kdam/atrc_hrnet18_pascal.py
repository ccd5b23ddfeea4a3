# KDAM: Swin-L teacher distilled into ATRC on HRNet18 (paper Table 3, ATRC+KDAM).
# The teacher checkpoint comes from its own training run:
#   bash tools/dist_train.sh configs/mtl/swinL_pascal.py 8    # -> work_dirs/swinL_pascal/iter_40000.pth
# Schedule, data and runtime are the ATRC student's (configs/mtl/atrc_hrnet18_pascal.py:
# the authors' recipe, 40k iters, SGD lr 0.005, total batch 8 over 8 GPUs); the
# student keeps the supervision of its initial predictions.
_base_ = ['../mtl/atrc_hrnet18_pascal.py', '../_base_/distillers/kdam_pascal.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/mtl/swinL_pascal.py',
    teacher_ckpt='work_dirs/swinL_pascal/iter_40000.pth',
    distill_losses={{_base_.distill_losses}},
    alpha=1.0,
    beta=1.0)
