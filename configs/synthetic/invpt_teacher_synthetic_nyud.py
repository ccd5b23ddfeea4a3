# An InvPT teacher on synthetic NYUD-v2-layout data: the synthetic InvPT
# student with the synthetic teacher's Swin backbone (embed 48, depths
# 2-2-4-2) and a decoder twice as wide (preliminary 64, stages 96 / 48 / 24).
_base_ = ['./invpt_student_synthetic_nyud.py']
model = dict(
    backbone=dict(embed_dims=48, depths=(2, 2, 4, 2), num_heads=(2, 4, 8, 16)),
    decoder=dict(in_channels=[96, 192, 384], prelim_channels=64, channels=96))
