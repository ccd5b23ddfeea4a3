from .balanced_bce_loss import BalancedBinaryCrossEntropyLoss, BalancedCrossEntropyLoss
from .cross_entropy_loss import MultiTaskCrossEntropyLoss
from .depth_binning_ce_loss import DepthBinningCrossEntropyLoss
from .depth_l1_loss import DepthL1Loss
from .distill import CSDivergenceLoss, DISTLoss, KLDivergenceLoss
from .normal_cluster_ce_loss import NormalClusterCrossEntropyLoss
from .normal_l1_loss import NormalL1Loss
from .task_loss import TaskLoss
from .uncertainty_weighting import UncertaintyWeighting

__all__ = [
    'BalancedBinaryCrossEntropyLoss', 'BalancedCrossEntropyLoss', 'MultiTaskCrossEntropyLoss',
    'DepthL1Loss', 'NormalL1Loss', 'TaskLoss', 'UncertaintyWeighting',
    'CSDivergenceLoss', 'KLDivergenceLoss', 'DISTLoss', 'DepthBinningCrossEntropyLoss',
    'NormalClusterCrossEntropyLoss'
]
