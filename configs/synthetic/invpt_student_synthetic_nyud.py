# InvPT on synthetic NYUD-v2-layout data (CPU, minutes): the synthetic student
# baseline's Swin backbone, data, schedule and runtime
# (mtl_student_synthetic_nyud.py) with a small InvPT decoder in place of the
# neck and independent heads (reading the backbone's strides 8, 16, 32):
# preliminary decoder of 32 channels, UP stages of
# 48 / 24 / 12 channels at strides 32 / 16 / 8, initial predictions supervised
# like the final ones (aux loss 'inter', weight 1).
# Data: python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud
_base_ = ['./mtl_student_synthetic_nyud.py', '../_base_/models/invpt_tasks_nyud.py']
model = dict(
    backbone=dict(out_indices=(1, 2, 3)),
    neck=None,
    task_heads=None,
    shared_head_cfg=None,
    decoder=dict(
        type='InvPTDecoder',
        out_channels={{_base_.task_channels}},
        task_losses={{_base_.task_losses}},
        in_channels=[48, 96, 192],
        in_index=2,
        input_downsample=1,
        prelim_channels=32,
        channels=48,
        num_heads=(2, 2, 2),
        kv_strides=(2, 4, 8),
        skips=[None, dict(in_index=1), dict(in_index=0)],
        norm_cfg=dict(type='BN', requires_grad=True),
        aux_loss_weights=dict(inter=1.0)))
