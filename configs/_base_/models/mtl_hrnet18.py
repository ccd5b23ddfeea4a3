# ATRC-style multi-task baseline on HRNetV2-W18-Small-v2 (mmseg's hr18s):
# the four branches (18 + 36 + 72 + 144 = 270 channels) resized to stride 4
# and concatenated, then one light head per task with 67 (= 270 // 4) channels
# (set on every head of heads_nyud.py / heads_pascal.py by shared_head_cfg).
data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size_divisor=32,
    pad_val=0)


model = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='HRNet',
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK', num_blocks=(2, ),
                        num_channels=(64, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC', num_blocks=(2, 2),
                        num_channels=(18, 36)),
            stage3=dict(num_modules=3, num_branches=3, block='BASIC', num_blocks=(2, 2, 2),
                        num_channels=(18, 36, 72)),
            stage4=dict(num_modules=2, num_branches=4, block='BASIC',
                        num_blocks=(2, 2, 2, 2), num_channels=(18, 36, 72, 144))),
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://msra/hrnetv2_w18_small')),
    neck=dict(type='MultiScaleConcatNeck', in_channels=[18, 36, 72, 144]),
    shared_head_cfg=dict(channels=67, norm_cfg=dict(type='SyncBN', requires_grad=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
