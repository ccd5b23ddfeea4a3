# KDAM on synthetic NYUD-v2-layout data (CPU, minutes) with an InvPT student:
# the synthetic multi-task teacher distilled into the synthetic InvPT student,
# with the student's data, schedule and runtime. Train the teacher first:
#   python tools/train.py configs/synthetic/mtl_teacher_synthetic_nyud.py
# teacher_ckpt is its work dir: the checkpoint named in its last_checkpoint file is loaded.
_base_ = ['./invpt_student_synthetic_nyud.py', '../_base_/distillers/kdam_nyud.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/synthetic/mtl_teacher_synthetic_nyud.py',
    teacher_ckpt='work_dirs/mtl_teacher_synthetic_nyud',
    distill_losses={{_base_.distill_losses}},
    alpha=1.0,
    beta=1.0)
