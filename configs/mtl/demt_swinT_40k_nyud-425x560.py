# DeMT (Xu, Yang, Zhang, AAAI 2023) on Swin-T, NYUD-v2: deformable mixer encoder and
# task-aware transformer decoder on the stride-4 concatenation of the backbone outputs.
# The authors' recipe: 40k iterations, SGD lr 1e-3 momentum 0.9 wd 5e-4, poly (power 0.9),
# total batch 8 (1 image x 8 GPUs), SyncBN: bash tools/dist_train.sh <this config> 8
# Backbone weights as the authors': the Swin backbone of mmseg's UperNet trained on ADE20K.
_base_ = [
    '../_base_/models/mtl_swin.py',
    '../_base_/models/demt_nyud.py',
    '../_base_/datasets/nyud_mtl_demt.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
    '../_base_/st_references.py'
]
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/swin/'
            'upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K/'
            'upernet_swin_tiny_patch4_window7_512x512_160k_ade20k_pretrain_224x224_1K_20210531_112542-e380ad3e.pth')),
    decoder={{_base_.decoder}},
    shared_head_cfg=None,  # the backbone base's head settings: no heads here
)
train_dataloader = dict(batch_size=1)  # x 8 GPUs = the total batch 8
val_evaluator = dict(type='MultiTaskMetric', tasks=['semseg', 'depth', 'normal', 'edge'], edge_max_dist=0.011, st_reference={{_base_.nyud_swinT_st}})
test_evaluator = val_evaluator
