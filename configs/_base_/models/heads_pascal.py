# One ATRC baseline head per PASCAL-Context task (in_channels come from the neck).
# Task weights of the reference code: semseg 1, human parts 2, saliency 5,
# normals 10, edge 50 (balanced BCE, positive weight 0.95).
head_norm_cfg = dict(type='SyncBN', requires_grad=True)
task_heads = dict(
    semseg=dict(type='ATRCBaselineHead', channels=96, out_channels=21, norm_cfg=head_norm_cfg,
                loss_decode=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0)),
    human_parts=dict(type='ATRCBaselineHead', channels=96, out_channels=7,
                     norm_cfg=head_norm_cfg,
                     loss_decode=dict(type='MultiTaskCrossEntropyLoss', loss_weight=2.0)),
    saliency=dict(type='ATRCBaselineHead', channels=96, out_channels=2, norm_cfg=head_norm_cfg,
                  loss_decode=dict(type='BalancedCrossEntropyLoss', loss_weight=5.0)),
    normal=dict(type='ATRCBaselineHead', channels=96, out_channels=3, norm_cfg=head_norm_cfg,
                loss_decode=dict(type='NormalL1Loss', loss_weight=10.0)),
    edge=dict(type='ATRCBaselineHead', channels=96, out_channels=1, norm_cfg=head_norm_cfg,
              loss_decode=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.95,
                               loss_weight=50.0)))
