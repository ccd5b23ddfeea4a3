# KDAM: the authors' released DeMT Swin-S distilled into DeMT Swin-T on NYUD-v2.
# The teacher is converted once from the authors' checkpoint (yangyangxu0/DeMT):
#   python tools/model_converters/demt2mmmtl.py <downloaded .ckpt> \
#       configs/mtl/demt_swinS_nyud-480x640_released.py checkpoints/demt_swinS_nyud_released.pth
# (docs/model_zoo.md, "Released weights"). It runs the authors' one-image task interaction
# (interaction_across_tasks=False) on the student's training crops.
# Schedule, data and runtime are the student's (DeMT's recipe, 1 image x 8 GPUs):
#   bash tools/dist_train.sh configs/kdam/kdam_demtS-released-demt-swinT_40k_nyud-425x560.py 8
_base_ = ['../mtl/demt_swinT_40k_nyud-425x560.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/mtl/demt_swinS_nyud-480x640_released.py',
    teacher_ckpt='checkpoints/demt_swinS_nyud_released.pth',
    # KDAM's CS divergence per task (paper Sec. 3.3); `spatial` for the
    # regression tasks is our choice, see docs/distillation.md.
    distill_losses=dict(
        semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        depth=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0)),
    alpha=1.0,
    beta=1.0)
