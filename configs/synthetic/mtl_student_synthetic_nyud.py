# Synthetic NYUD-v2-layout data, small multi-task student baseline that trains
# on CPU in a few minutes (the demo's "student baseline"). Same model family
# as the real configs: Swin backbone + MultiScaleConcatNeck + ATRC heads.
# Data: python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud
_base_ = [
    '../_base_/models/mtl_swin.py', '../_base_/models/heads_nyud.py',
    '../_base_/datasets/synthetic_nyud.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(
        embed_dims=24,
        depths=(1, 1, 2, 1),
        num_heads=(1, 2, 4, 8),
        window_size=4,
        drop_path_rate=0.0,
        init_cfg=None),
    neck=dict(in_channels=[24, 48, 96, 192]),
    task_heads={{_base_.task_heads}},
    shared_head_cfg=dict(channels=32, norm_cfg=dict(type='BN', requires_grad=True)))
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
