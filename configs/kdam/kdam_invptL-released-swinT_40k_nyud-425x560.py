# KDAM: the authors' released InvPT ViT-L distilled
# into the Swin-T multi-task baseline on NYUD-v2.
# The teacher is the authors' released InvPT ViT-L (CC BY-NC 4.0), converted once:
#   python tools/model_converters/invpt2mmmtl.py <downloaded .pth> \
#       configs/mtl/invpt_vitL_nyud-448x576_released.py checkpoints/invpt_vitL_nyud_released.pth
# (docs/model_zoo.md, "Released weights"). It sees the student's training crops; its
# position embedding is interpolated to their size (dynamic_img_size).
# Schedule, data and runtime are the student's:
#   bash tools/dist_train.sh configs/kdam/kdam_invptL-released-swinT_40k_nyud-425x560.py <gpus>
_base_ = ['../mtl/mtl_swinT_40k_nyud-425x560.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/mtl/invpt_vitL_nyud-448x576_released.py',
    teacher_ckpt='checkpoints/invpt_vitL_nyud_released.pth',
    # KDAM's CS divergence per task (paper Sec. 3.3); `spatial` for the
    # regression tasks is our choice, see docs/distillation.md.
    distill_losses=dict(
        semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        depth=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0)),
    alpha=1.0,
    beta=1.0)
