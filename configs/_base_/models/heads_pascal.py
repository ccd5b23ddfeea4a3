# One ATRC baseline head per PASCAL-Context task (in_channels come from the
# neck; channels and norm_cfg are the backbone's: shared_head_cfg in
# configs/_base_/models/mtl_*.py). Splice them into a model with
#   model = dict(task_heads={{_base_.task_heads}})
# The top-level `task_heads` then equals model.task_heads (tests/test_configs.py).
# Task weights of the reference code: semseg 1, human parts 2, saliency 5,
# normals 10, edge 50 (balanced BCE, positive weight 0.95).
task_heads = dict(
    semseg=dict(type='ATRCBaselineHead', out_channels=21,
                loss_decode=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0)),
    human_parts=dict(type='ATRCBaselineHead', out_channels=7,
                     loss_decode=dict(type='MultiTaskCrossEntropyLoss', loss_weight=2.0)),
    saliency=dict(type='ATRCBaselineHead', out_channels=2,
                  loss_decode=dict(type='BalancedCrossEntropyLoss', loss_weight=5.0)),
    normal=dict(type='ATRCBaselineHead', out_channels=3,
                loss_decode=dict(type='NormalL1Loss', loss_weight=10.0)),
    edge=dict(type='ATRCBaselineHead', out_channels=1,
              loss_decode=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.95,
                               loss_weight=50.0)))
