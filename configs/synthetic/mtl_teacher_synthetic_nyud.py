# The demo's multi-task teacher: the synthetic student baseline with a wider,
# deeper Swin backbone and wider heads (about 4x the student's compute).
_base_ = ['./mtl_student_synthetic_nyud.py']
model = dict(
    backbone=dict(embed_dims=48, depths=(2, 2, 4, 2), num_heads=(2, 4, 8, 16)),
    neck=dict(in_channels=[48, 96, 192, 384]),
    shared_head_cfg=dict(channels=64))
