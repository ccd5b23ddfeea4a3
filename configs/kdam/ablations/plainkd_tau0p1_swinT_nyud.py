# Table 5b: plain KD temperature sweep (alpha = beta = 1), tau = 0.1.
_base_ = ['../../kd_baselines/plainkd_swinT_nyud.py']
model = dict(distill_losses=dict(
    semseg=dict(tau=0.1), depth=dict(tau=0.1), normal=dict(tau=0.1), edge=dict(tau=0.1)))
