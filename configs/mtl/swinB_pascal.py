# swinB multi-task baseline on PASCAL-Context: shared backbone, one ATRC baseline head per task.
# 40k iterations, total batch 8 (1 image x 8 GPUs): bash tools/dist_train.sh <this config> 8
_base_ = [
    '../_base_/models/mtl_swin.py',
    '../_base_/models/heads_pascal.py',
    '../_base_/datasets/pascal_context_mtl.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py'
]
model = dict(
    backbone=dict(
        pretrain_img_size=384,
        embed_dims=128,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        window_size=12,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/'
            'swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]),
    task_heads={{_base_.task_heads}},
)
train_dataloader = dict(batch_size=1)  # x 8 GPUs = the paper's total batch 8
val_evaluator = dict(type='MultiTaskMetric', tasks=['semseg', 'human_parts', 'saliency', 'normal', 'edge'], edge_max_dist=0.0075)
test_evaluator = val_evaluator
