# KDAM on synthetic pascal data (CPU, minutes): the larger synthetic teacher
# distilled into the synthetic student baseline, with the student baseline's
# data, schedule and runtime so that the comparison is fair. Train the teacher first:
#   python tools/train.py configs/synthetic/mtl_teacher_synthetic_pascal.py
# teacher_ckpt is its work dir: the checkpoint named in its last_checkpoint file is loaded.
_base_ = ['./mtl_student_synthetic_pascal.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/synthetic/mtl_teacher_synthetic_pascal.py',
    teacher_ckpt='work_dirs/mtl_teacher_synthetic_pascal',
    # KDAM's CS divergence per task (paper Sec. 3.3); `spatial` for normals
    # is our choice, see docs/distillation.md. Saliency has a 2-channel head
    # (balanced 2-class CE), hence `channel`.
    distill_losses=dict(
        semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        human_parts=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        saliency=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0)),
    alpha=1.0,
    beta=1.0)
