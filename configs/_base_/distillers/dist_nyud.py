# DIST (Huang et al., 2022): 1 - Pearson correlation, inter + intra, tau = 1.
dist_losses = dict(
    semseg=dict(type='DISTLoss', mode='channel', tau=1.0),
    depth=dict(type='DISTLoss', mode='spatial', tau=1.0),
    normal=dict(type='DISTLoss', mode='spatial', tau=1.0),
    edge=dict(type='DISTLoss', mode='binary', tau=1.0))
