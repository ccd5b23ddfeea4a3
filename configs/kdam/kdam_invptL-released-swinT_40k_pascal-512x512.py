# KDAM: the authors' released InvPT ViT-L distilled into the
# Swin-T multi-task baseline on PASCAL-Context: the Swin-L teacher of
# kdam_swinL-swinT_40k_pascal-512x512.py replaced.
# The teacher is converted once (CC BY-NC 4.0; docs/model_zoo.md, "Released weights"):
#   python tools/model_converters/invpt2mmmtl.py <downloaded .pth> \
#       configs/mtl/invpt_vitL_pascal-512x512_released.py checkpoints/invpt_vitL_pascal_released.pth
# It sees the student's training crops; its position embedding is interpolated to their
# size (dynamic_img_size). Schedule, data and runtime are the student's:
#   bash tools/dist_train.sh configs/kdam/kdam_invptL-released-swinT_40k_pascal-512x512.py <gpus>
_base_ = ['./kdam_swinL-swinT_40k_pascal-512x512.py']
model = dict(
    teacher_cfg='configs/mtl/invpt_vitL_pascal-512x512_released.py',
    teacher_ckpt='checkpoints/invpt_vitL_pascal_released.pth')
