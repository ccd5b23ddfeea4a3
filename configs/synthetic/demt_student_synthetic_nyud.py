# Synthetic NYUD-v2-layout data, a small DeMT that trains on CPU in a few
# minutes: the student baseline's tiny Swin backbone, neck, data, schedule
# and runtime (mtl_student_synthetic_nyud.py), with a DeMT decoder of
# 32 channels (2 heads, 32-channel prediction heads) instead of the
# independent heads. Losses as configs/_base_/models/demt_nyud.py.
# Data: python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud
_base_ = ['./mtl_student_synthetic_nyud.py', '../_base_/models/demt_nyud.py']
model = dict(
    task_heads=None,
    shared_head_cfg=None,
    decoder=dict(
        type='DeMTDecoder',
        tasks={{_base_.decoder.tasks}},
        out_channels={{_base_.decoder.out_channels}},
        task_losses={{_base_.decoder.task_losses}},
        embed_dims=32,
        num_heads=2,
        bottleneck_channels=32,
        norm_cfg=dict(type='BN', requires_grad=True)))
