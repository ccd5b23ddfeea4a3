# ATRC (Bruggemann et al., ICCV 2021) on HRNet18 for PASCAL-Context: the shared
# HRNetV2-W18-Small-v2 map (270 channels at stride 4) feeds the ATRC decoder
# with the authors' searched contexts (configs/_base_/models/atrc_pascal.py).
# The authors' recipe (github.com/brdav/atrc, config/pascal/hrnet18/atrc.yaml):
# 40k iterations, SGD lr 0.005 momentum 0.9 wd 5e-4, poly 0.9, total batch 8,
# SyncBN; random scaling in [0.5, 2], 512x512 crops with at most 75 % of one
# class, flips and photometric distortion.
#   bash tools/dist_train.sh configs/mtl/atrc_hrnet18_40k_pascal-512x512.py 8
_base_ = [
    '../_base_/models/atrc_pascal.py',
    '../_base_/datasets/pascal_context_mtl.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
    '../_base_/st_references.py'
]
optim_wrapper = dict(optimizer=dict(lr=0.005))  # SGD momentum 0.9, wd 5e-4 as the base
crop_size = (512, 512)  # (h, w)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomResize', ratio_range=(0.5, 2.0)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MultiTaskPhotoMetricDistortion'),
    dict(type='MultiTaskPad', size=(crop_size[1], crop_size[0])),  # (w, h)
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(batch_size=1, dataset=dict(pipeline=train_pipeline))  # x 8 GPUs
val_evaluator = dict(type='MultiTaskMetric',
                     tasks=['semseg', 'human_parts', 'saliency', 'normal', 'edge'],
                     edge_max_dist=0.0075, st_reference={{_base_.pascal_hrnet18_st}})
test_evaluator = val_evaluator
