# Plain KD (KL, tau = 3) baseline of paper Table 4: Swin-L teacher, Swin-T student.
# Same pair and schedule as configs/kdam/swinT_nyud.py, other distillation loss.
_base_ = ['../kdam/swinT_nyud.py', '../_base_/distillers/plainkd_nyud.py']
model = dict(distill_losses={{_base_.plainkd_losses}})
