# One ATRC baseline head per NYUD-v2 task (in_channels come from the neck).
# Task weights of the reference code: semseg 1, depth 1, normals 10, edge 50.
head_norm_cfg = dict(type='SyncBN', requires_grad=True)
task_heads = dict(
    semseg=dict(type='ATRCBaselineHead', channels=96, out_channels=40, norm_cfg=head_norm_cfg,
                loss_decode=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0)),
    depth=dict(type='ATRCBaselineHead', channels=96, out_channels=1, norm_cfg=head_norm_cfg,
               loss_decode=dict(type='DepthL1Loss', loss_weight=1.0)),
    normal=dict(type='ATRCBaselineHead', channels=96, out_channels=3, norm_cfg=head_norm_cfg,
                loss_decode=dict(type='NormalL1Loss', loss_weight=10.0)),
    edge=dict(type='ATRCBaselineHead', channels=96, out_channels=1, norm_cfg=head_norm_cfg,
              loss_decode=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.95,
                               loss_weight=50.0)))
