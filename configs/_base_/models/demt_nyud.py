# DeMT decoder for the NYUD-v2 tasks (in_channels come from the neck).
# Loss weights and losses of the authors' code (DemtHead, NYUD): semseg CE 1,
# depth L1 1, normals L1 of the normalised prediction 10, edge balanced BCE
# with positive weight 0.8 (NYUD's edge_pos_weight in their data module) 50.
decoder = dict(
    type='DeMTDecoder',
    tasks=['semseg', 'depth', 'normal', 'edge'],
    out_channels=dict(semseg=40, depth=1, normal=3, edge=1),
    task_losses=dict(
        semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
        depth=dict(type='DepthL1Loss', loss_weight=1.0),
        normal=dict(type='NormalL1Loss', loss_weight=10.0),
        edge=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=0.8, loss_weight=50.0)),
    embed_dims=256,
    num_heads=4,
    mixer_depth=1,
    norm_cfg=dict(type='SyncBN', requires_grad=True))
