# KDAM distillation losses for the NYUD-v2 tasks (paper Sec. 3.3).
# `spatial` for the regression tasks is our choice (the paper is silent):
# see docs/distillation.md. Use in a pair config as
#   model = dict(_delete_=True, type='KDAMDistiller', student={{_base_.model}},
#                distill_losses={{_base_.distill_losses}}, ...)
distill_losses = dict(
    semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
    depth=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
    normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
    edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0))
