# NYUD-v2 multi-task (semseg 40 classes, depth, normal, edge): 795 train /
# 654 val images of 480x640. Either public layout works (NYUDv2 tarball of
# ATRC / InvPT / DeMT, or NYUD_MT of MTI-Net); it is detected automatically.
# Augmentation follows ATRC / DeMT: random scaling by 1.0, 1.2 or 1.5 (depth
# divided by the scale), horizontal flip (normal x negated), random
# 425x560 crop padded with ignore. Testing is at the full 480x640 resolution.
dataset_type = 'NYUDv2MTLDataset'
data_root = 'data/nyud'
tasks = ['semseg', 'depth', 'normal', 'edge']
crop_size = (425, 560)  # (h, w)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomResize', ratios=(1.0, 1.2, 1.5)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MultiTaskPad', size=(crop_size[1], crop_size[0])),  # (w, h)
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        tasks=tasks,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        tasks=tasks,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiTaskMetric', tasks=tasks)
test_evaluator = val_evaluator
