# InvPT-T (InvPT on Swin-T, KDAM paper Table 2) on PASCAL-Context with InvPT's recipe
# (Adam lr 2e-5, wd 1e-6, poly, 40k iterations, crop 512x512, the initial
# predictions supervised like the final ones); decoder as the authors' ViT-L
# model, see configs/_base_/models/invpt_swinT.py.
# Total batch 6 (2 images x 3 GPUs): bash tools/dist_train.sh <this config> 3
_base_ = [
    '../_base_/models/invpt_swinT.py',
    '../_base_/models/invpt_tasks_pascal.py',
    '../_base_/datasets/invpt_pascal.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/invpt_40k.py',
    '../_base_/st_references.py'
]
model = dict(
    decoder=dict(out_channels={{_base_.task_channels}}, task_losses={{_base_.task_losses}}))
train_dataloader = dict(batch_size=2)  # x 3 GPUs = the authors' total batch 6
val_evaluator = dict(type='MultiTaskMetric', tasks=['semseg', 'human_parts', 'saliency', 'normal', 'edge'], edge_max_dist=0.0075, st_reference={{_base_.pascal_swinT_st}})
test_evaluator = val_evaluator
