# KDAM: the authors' released InvPT ViT-L distilled
# into the Swin-T multi-task baseline on PASCAL-Context.
# The teacher is the authors' released InvPT ViT-L (CC BY-NC 4.0), converted once:
#   python tools/model_converters/invpt2mmmtl.py <downloaded .pth> \
#       configs/mtl/invpt_vitL_pascal-512x512_released.py checkpoints/invpt_vitL_pascal_released.pth
# (docs/model_zoo.md, "Released weights"). It sees the student's training crops; its
# position embedding is interpolated to their size (dynamic_img_size).
# Schedule, data and runtime are the student's:
#   bash tools/dist_train.sh configs/kdam/kdam_invptL-released-swinT_40k_pascal-512x512.py <gpus>
_base_ = ['../mtl/mtl_swinT_40k_pascal-512x512.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/mtl/invpt_vitL_pascal-512x512_released.py',
    teacher_ckpt='checkpoints/invpt_vitL_pascal_released.pth',
    # KDAM's CS divergence per task (paper Sec. 3.3); `spatial` for the
    # regression tasks is our choice, see docs/distillation.md.
    distill_losses=dict(
        semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        human_parts=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        saliency=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0)),
    alpha=1.0,
    beta=1.0)
