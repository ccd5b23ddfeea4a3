# KDAM: the authors' released DeMT Swin-S distilled into DeMT Swin-T on NYUD-v2: the
# Swin-L teacher of kdam_swinL-demt-swinT_40k_nyud-425x560.py replaced.
# The teacher is converted once (docs/model_zoo.md, "Released weights"):
#   python tools/model_converters/demt2mmmtl.py <downloaded .ckpt> \
#       configs/mtl/demt_swinS_nyud-480x640_released.py checkpoints/demt_swinS_nyud_released.pth
# It runs the authors' one-image task interaction (interaction_across_tasks=False) on the
# student's training crops. Schedule, data and runtime are the student's (DeMT's recipe):
#   bash tools/dist_train.sh configs/kdam/kdam_demtS-released-demt-swinT_40k_nyud-425x560.py 8
_base_ = ['./kdam_swinL-demt-swinT_40k_nyud-425x560.py']
model = dict(
    teacher_cfg='configs/mtl/demt_swinS_nyud-480x640_released.py',
    teacher_ckpt='checkpoints/demt_swinS_nyud_released.pth')
