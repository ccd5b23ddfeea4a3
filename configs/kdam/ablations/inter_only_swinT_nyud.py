# Table 6 ablation: KDAM with the inter-task CS term only (intra_weight = 0).
_base_ = ['../swinT_nyud.py']
no_intra = dict(intra_weight=0.0)
model = dict(distill_losses=dict(semseg=no_intra, depth=no_intra, normal=no_intra, edge=no_intra))
