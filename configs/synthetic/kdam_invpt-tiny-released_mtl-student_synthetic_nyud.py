# KDAM on synthetic NYUD-v2-layout data with a converted released-format teacher: the
# reduced InvPT of the converter fixture (invpt_tiny_released_synthetic_nyud.py), converted
# from the authors' container by tools/model_converters/invpt2mmmtl.py, in place of the
# synthetic teacher of kdam_student_synthetic_nyud.py (same student, losses, data, schedule):
#   python tools/train.py <this config> --cfg-options model.teacher_ckpt=work_dirs/invpt_tiny.pth
_base_ = ['./kdam_student_synthetic_nyud.py']
model = dict(
    teacher_cfg='configs/synthetic/invpt_tiny_released_synthetic_nyud.py',
    teacher_ckpt='work_dirs/invpt_tiny.pth')
