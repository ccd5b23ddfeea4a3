# The demo's multi-task teacher: the synthetic student baseline with a wider,
# deeper Swin backbone and wider heads (about 4x the student's compute).
_base_ = ['./mtl_student_synthetic_pascal.py']
embed_dims = 48
head_channels = 64
model = dict(
    backbone=dict(embed_dims=embed_dims, depths=(2, 2, 4, 2), num_heads=(2, 4, 8, 16)),
    neck=dict(in_channels=[embed_dims * 2**i for i in range(4)]),
    shared_head_cfg=dict(channels=head_channels))
