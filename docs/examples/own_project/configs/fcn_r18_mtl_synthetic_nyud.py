# A multi-task model built in a project of its own, outside the mmmtl checkout:
# mmseg's ResNetV1c backbone and FCNHead decode heads (one per task, wrapped in
# mmmtl's MMSegTaskHead), mmseg's decode losses on semseg, a loss of this project
# on depth (my_project/losses.py), and mmmtl's NYUD-v2 dataset and MultiTaskMetric.
# Run from this folder (docs/own_project.md):
#   python $MMMTL/tools/train.py configs/fcn_r18_mtl_synthetic_nyud.py
default_scope = 'mmmtl'  # mmmtl's registries; mmseg's and mmengine's modules stay reachable
custom_imports = dict(imports=['mmmtl', 'my_project.losses'], allow_failed_imports=False)

# ------------------------------------------------------------------ data
dataset_type = 'NYUDv2MTLDataset'
data_root = 'data/synthetic_nyud'  # relative to the working directory
tasks = ['semseg', 'depth', 'normal', 'edge']
crop_size = (64, 96)  # (h, w)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='MultiTaskRandomResize', ratios=(1.0, 1.2, 1.5)),
    dict(type='MultiTaskRandomCrop', crop_size=crop_size, cat_max_ratio=1.0),
    dict(type='MultiTaskRandomFlip', prob=0.5, direction='horizontal'),
    dict(type='MultiTaskPhotoMetricDistortion'),
    dict(type='MultiTaskPad', size=(crop_size[1], crop_size[0])),  # (w, h)
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadMultiTaskAnnotations'),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', tasks=tasks,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', tasks=tasks,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MultiTaskMetric', tasks=tasks)
test_evaluator = val_evaluator

# ----------------------------------------------------------------- model
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN for multi-GPU training
base_channels = 16  # a narrow ResNet-18 (64 in the standard one)
fcn_head = dict(
    type='FCNHead',
    in_channels=base_channels * 8,  # stage 4 of a ResNet-18 (BasicBlock)
    in_index=3,
    channels=32,
    num_convs=1,
    concat_input=False,
    dropout_ratio=0.1,
    norm_cfg=norm_cfg,
    align_corners=False)
model = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=dict(
        type='MultiTaskDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size_divisor=8,
        pad_val=0),
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=base_channels,
        base_channels=base_channels,
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),  # output stride 8, as mmseg's FCN-D8
        norm_cfg=norm_cfg,
        norm_eval=False,
        contract_dilation=True),
    task_heads=dict(
        semseg=dict(
            type='MMSegTaskHead',
            out_channels=40,
            decode_head=fcn_head,
            # mmseg's decode losses, summed as in mmseg's decode heads
            loss_decode=[
                dict(type='CrossEntropyLoss', use_sigmoid=False, avg_non_ignore=True,
                     loss_weight=1.0),
                dict(type='DiceLoss', loss_weight=0.5),
            ]),
        depth=dict(
            type='MMSegTaskHead',
            out_channels=1,
            decode_head=fcn_head,
            loss_decode=dict(type='BerHuDepthLoss', loss_weight=1.0)),  # this project's
        normal=dict(
            type='MMSegTaskHead',
            out_channels=3,
            decode_head=fcn_head,
            loss_decode=dict(type='NormalL1Loss', loss_weight=10.0)),
        edge=dict(
            type='MMSegTaskHead',
            out_channels=1,
            decode_head=fcn_head,
            loss_decode=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.95,
                             loss_weight=50.0))),
    test_cfg=dict(mode='whole'))

# -------------------------------------------------------------- schedule
max_iters = 600
optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-6, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# --------------------------------------------------------------- runtime
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    non_finite_loss=dict(type='NonFiniteLossHook'),  # stop at a NaN / inf loss
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='MultiTaskVisualizationHook', draw=False, interval=1))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo', timeout=1800),  # 'nccl' on GPUs; timeout in seconds
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='MultiTaskVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
