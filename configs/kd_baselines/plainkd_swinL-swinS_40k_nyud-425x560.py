# plain KD (KL, tau = 3) baseline of paper Table 4: Swin-L teacher, Swin-S student.
# Same pair and schedule as configs/kdam/kdam_swinL-swinS_40k_nyud-425x560.py; the distillation loss
# is replaced (_delete_: no key of the CS loss is kept).
_base_ = ['../kdam/kdam_swinL-swinS_40k_nyud-425x560.py']
model = dict(distill_losses=dict(
    _delete_=True,
    semseg=dict(type='KLDivergenceLoss', mode='channel', tau=3.0),
    depth=dict(type='KLDivergenceLoss', mode='spatial', tau=3.0),
    normal=dict(type='KLDivergenceLoss', mode='spatial', tau=3.0),
    edge=dict(type='KLDivergenceLoss', mode='binary', tau=3.0)))
