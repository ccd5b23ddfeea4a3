# KDAM with a student of another family (not in the paper): Swin-L teacher -> ResNet-50 student
# (mmseg's ResNetV1c, its four stages concatenated at stride 4: 3840 channels) on NYUD-v2.
# Teacher, KDAM losses, data and schedule are the Swin-T pair's; `_delete_=True` replaces
# the Swin backbone as a whole (a merge would keep Swin-only keys such as window_size).
_base_ = ['./kdam_swinL-swinT_40k_nyud-425x560.py']
model = dict(student=dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=50,
        out_indices=(0, 1, 2, 3),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnet50_v1c')),
    neck=dict(in_channels=[256, 512, 1024, 2048])))
