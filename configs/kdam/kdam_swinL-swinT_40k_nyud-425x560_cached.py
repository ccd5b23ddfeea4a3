# KDAM Swin-L -> Swin-T on NYUD-v2 from a teacher cache (offline distillation):
# the teacher's outputs are read with the training images instead of being
# computed at every step, so the teacher is neither run nor loaded.
# Write the cache once (it resumes; each GPU writes its share):
#   bash tools/distill/dist_cache_teacher.sh configs/kdam/kdam_swinL-swinT_40k_nyud-425x560_cached.py 8
#   python tools/distill/check_teacher_cache.py configs/kdam/kdam_swinL-swinT_40k_nyud-425x560_cached.py
# then train as usual. See docs/distillation.md (teacher cache).
_base_ = ['./kdam_swinL-swinT_40k_nyud-425x560.py']
teacher_cache = 'data/teacher_cache/kdam_swinL-swinT_40k_nyud-425x560'
model = dict(teacher_cache=teacher_cache)
crop_size = (425, 560)  # (h, w)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='LoadTeacherOutputs', cache_dir=teacher_cache),
    dict(type='MultiTaskRandomResize', ratios=(1.0, 1.2, 1.5)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MultiTaskPad', size=(crop_size[1], crop_size[0])),  # (w, h)
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# Refuses a cache of another dataset root or split before the first step.
custom_hooks = [dict(type='TeacherCacheCheckHook')]
