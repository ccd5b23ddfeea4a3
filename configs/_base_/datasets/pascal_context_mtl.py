# PASCAL-Context multi-task (semseg 21 classes, human parts 7, saliency,
# normal, edge): 4998 train / 5105 val images of at most 500x500, in the
# PASCAL_MT layout of MTI-Net / ATRC. Augmentation follows ATRC / DeMT:
# random scaling, horizontal flip (normal x negated), random 512x512 crop
# padded with ignore. At test time images keep their size; the model's data
# preprocessor pads them to 512x512 and predictions are cropped back.
dataset_type = 'PascalContextMTLDataset'
data_root = 'data/pascal_context'
tasks = ['semseg', 'human_parts', 'saliency', 'normal', 'edge']
crop_size = (512, 512)  # (h, w)
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
