# swinL multi-task baseline on PASCAL-Context: shared backbone, one ATRC baseline head per task.
# 40k iterations, total batch 8 (1 image x 8 GPUs): bash tools/dist_train.sh <this config> 8
_base_ = [
    '../_base_/models/mtl_swinL.py',
    '../_base_/models/heads_pascal.py',
    '../_base_/datasets/pascal_context_mtl.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py'
]
model = dict(
    task_heads={{_base_.task_heads}},
)
train_dataloader = dict(batch_size=1)  # x 8 GPUs = the paper's total batch 8
val_evaluator = dict(type='MultiTaskMetric', tasks=['semseg', 'human_parts', 'saliency', 'normal', 'edge'], edge_max_dist=0.0075)
test_evaluator = val_evaluator
