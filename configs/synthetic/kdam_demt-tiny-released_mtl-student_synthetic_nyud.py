# KDAM on synthetic NYUD-v2-layout data with a converted released-format teacher: the
# reduced DeMT of the converter fixture (demt_tiny_released_synthetic_nyud.py), converted
# from the authors' container by tools/model_converters/demt2mmmtl.py, distilled into the
# synthetic multi-task student baseline (kdam_student_synthetic_nyud.py's teacher replaced):
#   python tools/train.py <this config> --cfg-options model.teacher_ckpt=work_dirs/demt_tiny.pth
_base_ = ['./kdam_student_synthetic_nyud.py']
model = dict(
    teacher_cfg='configs/synthetic/demt_tiny_released_synthetic_nyud.py',
    teacher_ckpt='work_dirs/demt_tiny.pth')
