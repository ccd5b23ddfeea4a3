# ATRC (Bruggemann et al., ICCV 2021; github.com/brdav/atrc) for PASCAL-Context
# on the HRNet18 backbone and neck of mtl_hrnet18.py: the ATRC decoder replaces
# the independent heads.
# Task weights as the authors: semseg 1, human parts 2, saliency 5, normal 10,
# edge 50 (balanced BCE, positive weight 0.95); saliency is a 2-class output
# with class-balanced cross-entropy. The initial predictions ('initial'
# auxiliary output) have their own losses, with the same task weights:
# semseg 21 / human parts 7 / saliency 2 / edge 2 classes, normals 40 clusters
# (here nearly uniform directions; ATRC uses k-means centroids of the training
# normals).
# contexts: ATRC's searched choice for every target (row) / source (column) on
# PASCAL-Context with HRNet18 (the authors' genotypes/atrc_pascal_hrnet18.json).
_base_ = ['./mtl_hrnet18.py']
edge_pos_weight = 0.95
model = dict(
    shared_head_cfg=None,  # no independent heads
    decoder=dict(
        type='ATRCDecoder',
        out_channels=dict(semseg=21, human_parts=7, saliency=2, normal=3, edge=1),
        contexts=dict(
            semseg=dict(semseg='tlabel', human_parts='tlabel', saliency='slabel',
                        normal='none', edge='slabel'),
            human_parts=dict(semseg='tlabel', human_parts='tlabel', saliency='slabel',
                             normal='tlabel', edge='slabel'),
            saliency=dict(semseg='tlabel', human_parts='tlabel', saliency='tlabel',
                          normal='slabel', edge='tlabel'),
            normal=dict(semseg='tlabel', human_parts='tlabel', saliency='tlabel',
                        normal='tlabel', edge='slabel'),
            edge=dict(semseg='tlabel', human_parts='tlabel', saliency='tlabel',
                      normal='global', edge='tlabel')),
        task_losses=dict(
            semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
            human_parts=dict(type='MultiTaskCrossEntropyLoss', loss_weight=2.0),
            saliency=dict(type='BalancedCrossEntropyLoss', loss_weight=5.0),
            normal=dict(type='NormalL1Loss', loss_weight=10.0),
            edge=dict(type='BalancedBinaryCrossEntropyLoss', pos_weight=edge_pos_weight,
                      loss_weight=50.0)),
        aux_channels=dict(semseg=21, human_parts=7, saliency=2, normal=40, edge=2),
        aux_losses=dict(
            semseg=dict(type='MultiTaskCrossEntropyLoss', loss_weight=1.0),
            human_parts=dict(type='MultiTaskCrossEntropyLoss', loss_weight=2.0),
            saliency=dict(type='BalancedCrossEntropyLoss', loss_weight=5.0),
            normal=dict(type='NormalClusterCrossEntropyLoss', num_clusters=40,
                        loss_weight=10.0),
            edge=dict(type='BalancedCrossEntropyLoss', pos_weight=edge_pos_weight,
                      loss_weight=50.0)),
        aux_loss_weights=dict(initial=1.0),
        local_kernel_size=9,
        dropout_ratio=0.05,
        norm_cfg=dict(type='SyncBN', requires_grad=True)))
