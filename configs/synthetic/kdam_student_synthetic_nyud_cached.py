# KDAM on synthetic nyud data from a teacher cache (offline distillation): the
# same run as kdam_student_synthetic_nyud.py, with the teacher's outputs read
# from disk instead of computed at every step. After training the teacher:
#   python tools/distill/cache_teacher.py configs/synthetic/kdam_student_synthetic_nyud_cached.py
#   python tools/train.py configs/synthetic/kdam_student_synthetic_nyud_cached.py
_base_ = ['./kdam_student_synthetic_nyud.py']
teacher_cache = 'work_dirs/teacher_cache/kdam_student_synthetic_nyud'
model = dict(teacher_cache=teacher_cache)
crop_size = (64, 96)  # (h, w)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='LoadTeacherOutputs', cache_dir=teacher_cache),
    dict(type='MultiTaskRandomResize', ratios=(1.0, 1.2, 1.5)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MultiTaskPhotoMetricDistortion'),
    dict(type='MultiTaskPad', size=(crop_size[1], crop_size[0])),  # (w, h)
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
# Refuses a cache of another dataset root or split before the first step.
custom_hooks = [dict(type='TeacherCacheCheckHook')]
