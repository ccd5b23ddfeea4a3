# Small ATRC (HRNet + ATRC decoder with the authors' NYUD-v2 contexts) on
# synthetic NYUD-v2-layout data: trains on CPU in a few minutes, as a student
# (configs/synthetic/kdam_atrc_student_synthetic_nyud.py) or on its own.
# Same decoder as configs/mtl/atrc_hrnet18_40k_nyud-425x560.py (contexts, losses, initial
# predictions) on a narrow, shallow HRNet (branches of 8/16/32/64 channels,
# one block per branch); data, schedule and runtime of the synthetic student
# baseline (configs/synthetic/mtl_student_synthetic_nyud.py).
# Data: python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud
_base_ = [
    '../_base_/models/atrc_nyud.py', '../_base_/datasets/synthetic_nyud.py',
    '../_base_/default_runtime.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    backbone=dict(
        norm_cfg=norm_cfg,
        extra=dict(
            stage1=dict(num_blocks=(1, ), num_channels=(16, )),
            stage2=dict(num_blocks=(1, 1), num_channels=(8, 16)),
            stage3=dict(num_modules=1, num_blocks=(1, 1, 1), num_channels=(8, 16, 32)),
            stage4=dict(num_modules=1, num_blocks=(1, 1, 1, 1), num_channels=(8, 16, 32, 64))),
        init_cfg=None),
    neck=dict(in_channels=[8, 16, 32, 64]),  # 120 channels -> ATRC channels 30, attention 15
    decoder=dict(norm_cfg=norm_cfg))
max_iters = 600
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(interval=20),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
