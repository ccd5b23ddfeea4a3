# KDAM distillation losses for the PASCAL-Context tasks (paper Sec. 3.3).
# Saliency has a 2-channel head (balanced 2-class CE), hence `channel`;
# with a 1-channel saliency head use mode='binary'.
distill_losses = dict(
    semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
    human_parts=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
    saliency=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
    normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
    edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0))
