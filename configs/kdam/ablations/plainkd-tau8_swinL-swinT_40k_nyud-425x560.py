# Table 5b: plain KD temperature sweep (alpha = beta = 1), tau = 8.
_base_ = ['../../kd_baselines/plainkd_swinL-swinT_40k_nyud-425x560.py']
model = dict(distill_losses=dict(
    semseg=dict(tau=8), depth=dict(tau=8), normal=dict(tau=8), edge=dict(tau=8)))
