# Plain KD (paper Eq. 2-3): tau^2 * KL(P_T || P_S), tau = 3 as in the paper.
plainkd_losses = dict(
    semseg=dict(type='KLDivergenceLoss', mode='channel', tau=3.0),
    depth=dict(type='KLDivergenceLoss', mode='spatial', tau=3.0),
    normal=dict(type='KLDivergenceLoss', mode='spatial', tau=3.0),
    edge=dict(type='KLDivergenceLoss', mode='binary', tau=3.0))
