# NYUD-v2 with the training augmentation of the DeMT (and ATRC) code: random
# scaling by a factor drawn uniformly from [0.5, 2.0] (depth divided by it),
# random 425x560 crop in which no class covers more than 75 % of the
# labelled pixels (10 tries), horizontal flip (normal x negated), photometric
# distortion, padding with ignore. Testing as nyud_mtl.py (full 480x640).
_base_ = ['./nyud_mtl.py']
crop_size = (425, 560)  # (h, w)
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
