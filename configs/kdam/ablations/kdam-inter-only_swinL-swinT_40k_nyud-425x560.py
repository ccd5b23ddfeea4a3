# Table 6 ablation: KDAM with the inter-task CS term only (intra_weight = 0).
_base_ = ['../kdam_swinL-swinT_40k_nyud-425x560.py']
model = dict(distill_losses=dict(
    semseg=dict(intra_weight=0.0), depth=dict(intra_weight=0.0),
    normal=dict(intra_weight=0.0), edge=dict(intra_weight=0.0)))
