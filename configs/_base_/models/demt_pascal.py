# DeMT decoder for the PASCAL-Context tasks (in_channels come from the neck).
# Loss weights and losses of the authors' code (DemtHead, PASCAL-Context):
# semseg CE 1, human parts CE 2, saliency balanced CE on two channels 5,
# normals L1 of the normalised prediction 10, edge balanced BCE with positive
# weight 0.95 50.
decoder = dict(
    type='DeMTDecoder',
    tasks=['semseg', 'human_parts', 'saliency', 'normal', 'edge'],
    out_channels=dict(semseg=21, human_parts=7, saliency=2, normal=3, edge=1),
    task_losses=dict(
        semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
        human_parts=dict(type='MultiTaskCrossEntropyLoss', loss_weight=2.0),
        saliency=dict(type='BalancedCrossEntropyLoss', loss_weight=5.0),
        normal=dict(type='NormalL1Loss', loss_weight=10.0),
        edge=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.95, loss_weight=50.0)),
    embed_dims=256,
    num_heads=4,
    mixer_depth=1,
    norm_cfg=dict(type='SyncBN', requires_grad=True))
