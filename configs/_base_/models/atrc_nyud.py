# ATRC (Bruggemann et al., ICCV 2021; github.com/brdav/atrc) for NYUD-v2 on the
# HRNet18 backbone and neck of mtl_hrnet18.py: the ATRC decoder replaces the
# independent heads.
# Task weights as the authors: semseg 1, depth 1, normal 10, edge 50; the edge
# positive weight is their NYUD-v2 value 0.8 (the baseline configs use 0.95).
# The initial predictions ('initial' auxiliary output) have their own losses,
# with the same task weights: semseg 40 classes, depth 40 log bins in
# [0.7, 10] m, normals 40 clusters (here nearly uniform directions; ATRC uses
# k-means centroids of the training normals), edge 2 classes.
# contexts: ATRC's searched choice for every target (row) / source (column) on
# NYUD-v2 with HRNet18 (the authors' genotypes/atrc_nyud_hrnet18.json).
_base_ = ['./mtl_hrnet18.py']
edge_pos_weight = 0.8
model = dict(
    shared_head_cfg=None,  # no independent heads
    decoder=dict(
        type='ATRCDecoder',
        out_channels=dict(semseg=40, depth=1, normal=3, edge=1),
        contexts=dict(
            semseg=dict(semseg='tlabel', depth='tlabel', normal='slabel', edge='slabel'),
            depth=dict(semseg='slabel', depth='tlabel', normal='slabel', edge='slabel'),
            normal=dict(semseg='slabel', depth='tlabel', normal='tlabel', edge='slabel'),
            edge=dict(semseg='tlabel', depth='tlabel', normal='global', edge='tlabel')),
        task_losses=dict(
            semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
            depth=dict(type='DepthL1Loss', loss_weight=1.0),
            normal=dict(type='NormalL1Loss', loss_weight=10.0),
            edge=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=edge_pos_weight,
                      loss_weight=50.0)),
        aux_channels=dict(semseg=40, depth=40, normal=40, edge=2),
        aux_losses=dict(
            semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
            depth=dict(type='DepthBinningCrossEntropyLoss', num_bins=40, min_depth=0.7,
                       max_depth=10.0, loss_weight=1.0),
            normal=dict(type='NormalClusterCrossEntropyLoss', num_clusters=40,
                        loss_weight=10.0),
            edge=dict(type='BalancedCrossEntropyLoss', pos_weight=edge_pos_weight,
                      loss_weight=50.0)),
        aux_loss_weights=dict(initial=1.0),
        local_kernel_size=9,
        dropout_ratio=0.05,
        norm_cfg=dict(type='SyncBN', requires_grad=True)))
