default_scope = 'mmmtl'
custom_imports = dict(imports=['mmmtl'], allow_failed_imports=False)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # timeout (s) of collective operations: a stalled rank ends the job with an error
    dist_cfg=dict(backend='nccl', timeout=1800),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='MultiTaskVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # stops at a NaN / inf loss before it is checkpointed (to skip such steps instead:
    # optim_wrapper.type='SkipNonFiniteOptimWrapper')
    non_finite_loss=dict(type='NonFiniteLossHook'),
    # writes checkpoints atomically; deletes old ones only after the new one is complete
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=4000,
                    max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='MultiTaskVisualizationHook', draw=False, interval=1))
tta_model = None
