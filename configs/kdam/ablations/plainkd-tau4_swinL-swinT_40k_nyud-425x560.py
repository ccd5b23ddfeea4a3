# Table 5b: plain KD temperature sweep (alpha = beta = 1), tau = 4.
_base_ = ['../../kd_baselines/plainkd_swinL-swinT_40k_nyud-425x560.py']
model = dict(distill_losses=dict(
    semseg=dict(tau=4), depth=dict(tau=4), normal=dict(tau=4), edge=dict(tau=4)))
