# Table 5b: plain KD temperature sweep (alpha = beta = 1), tau = 4.
_base_ = ['../../kd_baselines/plainkd_swinT_nyud.py']
tau = dict(tau=4)
model = dict(distill_losses=dict(semseg=tau, depth=tau, normal=tau, edge=tau))
