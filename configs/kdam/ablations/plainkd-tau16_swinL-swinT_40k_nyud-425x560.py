# Table 5b: plain KD temperature sweep (alpha = beta = 1), tau = 16.
_base_ = ['../../kd_baselines/plainkd_swinL-swinT_40k_nyud-425x560.py']
model = dict(distill_losses=dict(
    semseg=dict(tau=16), depth=dict(tau=16), normal=dict(tau=16), edge=dict(tau=16)))
