# Table 6 ablation: KDAM with the intra-task CS term only (inter_weight = 0).
_base_ = ['../kdam_swinL-swinT_40k_nyud-425x560.py']
model = dict(distill_losses=dict(
    semseg=dict(inter_weight=0.0), depth=dict(inter_weight=0.0),
    normal=dict(inter_weight=0.0), edge=dict(inter_weight=0.0)))
