# Table 5a: plain KD loss-scale sweep (tau = 3, alpha = 1), beta = 16.
_base_ = ['../../kd_baselines/plainkd_swinL-swinT_40k_nyud-425x560.py']
model = dict(beta=16)
