# DIST KD (Pearson, tau = 1) baseline of paper Table 4: Swin-L teacher, Swin-T student.
# Same pair and schedule as configs/kdam/swinT_nyud.py, other distillation loss.
_base_ = ['../kdam/swinT_nyud.py', '../_base_/distillers/dist_nyud.py']
model = dict(distill_losses={{_base_.dist_losses}})
