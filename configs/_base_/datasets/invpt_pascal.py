# PASCAL-Context with InvPT's augmentation (the authors' code, after ATRC):
# random scaling by a factor drawn from [0.5, 2.0], random 512x512 crop (at most
# 75 % of one class, 10 tries), horizontal flip (normal x negated), photometric
# distortion, padding with ignore. Test images keep their size (the data
# preprocessor pads them to a multiple of 32).
_base_ = ['./pascal_context_mtl.py']
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
