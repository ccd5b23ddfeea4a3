# Table 5b: plain KD temperature sweep (alpha = beta = 1), tau = 3.
_base_ = ['../../kd_baselines/plainkd_swinL-swinT_40k_nyud-425x560.py']
model = dict(distill_losses=dict(
    semseg=dict(tau=3), depth=dict(tau=3), normal=dict(tau=3), edge=dict(tau=3)))
