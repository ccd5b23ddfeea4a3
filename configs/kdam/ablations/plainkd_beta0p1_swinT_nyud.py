# Table 5a: plain KD loss-scale sweep (tau = 3, alpha = 1), beta = 0.1.
_base_ = ['../../kd_baselines/plainkd_swinT_nyud.py']
model = dict(beta=0.1)
