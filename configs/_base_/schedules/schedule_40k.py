# The paper's schedule: 40k iterations, SGD lr 1e-3 momentum 0.9 wd 5e-4,
# poly decay (power 0.9), total batch 8 (1 image per GPU x 8 GPUs).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=40000, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# Checkpoints every 4000 iterations: default_hooks.checkpoint in default_runtime.py.
