# KDAM on synthetic nyud data (CPU, minutes) with a DeMT student: the
# synthetic multi-task teacher distilled into the small DeMT of
# demt_student_synthetic_nyud.py, with that config's data, schedule and
# runtime so that the comparison with it is fair. Train the teacher first:
#   python tools/train.py configs/synthetic/mtl_teacher_synthetic_nyud.py
# teacher_ckpt is its work dir: the checkpoint named in its last_checkpoint file is loaded.
_base_ = ['./demt_student_synthetic_nyud.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/synthetic/mtl_teacher_synthetic_nyud.py',
    teacher_ckpt='work_dirs/mtl_teacher_synthetic_nyud',
    # KDAM's CS divergence per task (paper Sec. 3.3); `spatial` for the
    # regression tasks is our choice, see docs/distillation.md.
    distill_losses=dict(
        semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        depth=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0)),
    alpha=1.0,
    beta=1.0)
