# InvPT's schedule (Ye and Xu, ECCV 2022, and their configs): 40k iterations,
# Adam lr 2e-5, weight decay 1e-6, poly decay (power 0.9) to 0, total batch 6
# (2 images per GPU x 3 GPUs).
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-5, weight_decay=1e-6),
    clip_grad=None)
param_scheduler = [
    dict(type='PolyLR', eta_min=0, power=0.9, begin=0, end=40000, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=40000, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
