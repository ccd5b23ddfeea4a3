# Table 5b: plain KD temperature sweep (alpha = beta = 1), tau = 1.
_base_ = ['../../kd_baselines/plainkd_swinT_nyud.py']
tau = dict(tau=1)
model = dict(distill_losses=dict(semseg=tau, depth=tau, normal=tau, edge=tau))
