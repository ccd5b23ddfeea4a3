# PASCAL-Context tasks of InvPT: logit channels and the authors' losses and
# weights (semseg 1, human parts 2, saliency 5 as balanced two-class CE,
# normals 10, edge 50 with positive weight 0.95), the same for the final and
# the initial ('inter') predictions.
task_channels = dict(semseg=21, human_parts=7, saliency=2, normal=3, edge=1)
task_losses = dict(
    semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
    human_parts=dict(type='MultiTaskCrossEntropyLoss', loss_weight=2.0),
    saliency=dict(type='BalancedCrossEntropyLoss', loss_weight=5.0),
    normal=dict(type='NormalL1Loss', loss_weight=10.0),
    edge=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.95, loss_weight=50.0))
