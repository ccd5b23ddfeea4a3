# DIST (Huang et al., 2022): 1 - Pearson correlation, inter + intra, tau = 1.
# Edges (binary mode): a row [s, 1 - s] correlates with another to +-1 with
# zero gradient, so only the intra term (the sigmoid maps correlated over the
# pixels of the batch) is used there.
dist_losses = dict(
    semseg=dict(type='DISTLoss', mode='channel', tau=1.0),
    depth=dict(type='DISTLoss', mode='spatial', tau=1.0),
    normal=dict(type='DISTLoss', mode='spatial', tau=1.0),
    edge=dict(type='DISTLoss', mode='binary', tau=1.0, inter_weight=0.0))
