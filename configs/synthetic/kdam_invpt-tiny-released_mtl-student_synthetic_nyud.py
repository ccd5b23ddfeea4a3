# KDAM on synthetic NYUD-v2-layout data with a converted released-format teacher: the
# reduced InvPT of the converter fixture (invpt_tiny_released_synthetic_nyud.py), converted
# from the authors' container by tools/model_converters/invpt2mmmtl.py, distilled into the
# synthetic multi-task student baseline (its data, schedule and runtime):
#   python tools/train.py <this config> --cfg-options model.teacher_ckpt=work_dirs/invpt_tiny.pth
_base_ = ['./mtl_student_synthetic_nyud.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/synthetic/invpt_tiny_released_synthetic_nyud.py',
    teacher_ckpt='work_dirs/invpt_tiny.pth',
    distill_losses=dict(
        semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        depth=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0)),
    alpha=1.0,
    beta=1.0)
