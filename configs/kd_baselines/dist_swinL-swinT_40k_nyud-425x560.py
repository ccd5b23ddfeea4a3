# DIST KD (Pearson, tau = 1) baseline of paper Table 4: Swin-L teacher, Swin-T student.
# Same pair and schedule as configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py; the distillation loss
# is replaced (_delete_: no key of the CS loss is kept):
# DIST (Huang et al., 2022), 1 - Pearson correlation, inter + intra, tau = 1.
_base_ = ['../kdam/kdam_swinL-swinT_40k_nyud-425x560.py']
model = dict(distill_losses=dict(
    _delete_=True,
    semseg=dict(type='DISTLoss', mode='channel', tau=1.0),
    # DIST cannot see a depth map's level and its gradient there is 3-8x the depth loss's:
    # weighted down so that the depth loss keeps the level (docs/distillation.md)
    depth=dict(type='DISTLoss', mode='spatial', tau=1.0, loss_weight=0.1),
    normal=dict(type='DISTLoss', mode='spatial', tau=1.0),
    # binary mode: DIST's row term is a ±1 sign agreement with no gradient, so intra only
    edge=dict(type='DISTLoss', mode='binary', tau=1.0, inter_weight=0.0)))
