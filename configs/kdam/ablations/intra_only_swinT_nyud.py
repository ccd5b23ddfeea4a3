# Table 6 ablation: KDAM with the intra-task CS term only (inter_weight = 0).
_base_ = ['../swinT_nyud.py']
no_inter = dict(inter_weight=0.0)
model = dict(distill_losses=dict(semseg=no_inter, depth=no_inter, normal=no_inter, edge=no_inter))
