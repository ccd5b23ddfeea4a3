# swinB multi-task baseline on NYUD-v2: shared backbone, one ATRC baseline head per task.
# 40k iterations, total batch 8 (1 image x 8 GPUs): bash tools/dist_train.sh <this config> 8
_base_ = [
    '../_base_/models/mtl_swinB.py',
    '../_base_/models/heads_nyud.py',
    '../_base_/datasets/nyud_mtl.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
    '../_base_/st_references.py'
]
model = dict(
    task_heads={{_base_.task_heads}},
)
train_dataloader = dict(batch_size=1)  # x 8 GPUs = the paper's total batch 8
val_evaluator = dict(type='MultiTaskMetric', tasks=['semseg', 'depth', 'normal', 'edge'], edge_max_dist=0.011, st_reference={{_base_.nyud_swinB_st}})
test_evaluator = val_evaluator
