# hrnet18 multi-task baseline on PASCAL-Context: shared backbone, one ATRC baseline head per task.
# 40k iterations, total batch 8 (1 image x 8 GPUs): bash tools/dist_train.sh <this config> 8
_base_ = [
    '../_base_/models/mtl_hrnet18.py',
    '../_base_/models/heads_pascal.py',
    '../_base_/datasets/pascal_context_mtl.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
    '../_base_/st_references.py'
]
model = dict(
    task_heads={{_base_.task_heads}},
)
train_dataloader = dict(batch_size=1)  # x 8 GPUs = the paper's total batch 8
val_evaluator = dict(type='MultiTaskMetric', tasks=['semseg', 'human_parts', 'saliency', 'normal', 'edge'], edge_max_dist=0.0075, st_reference={{_base_.pascal_hrnet18_st}})
test_evaluator = val_evaluator
