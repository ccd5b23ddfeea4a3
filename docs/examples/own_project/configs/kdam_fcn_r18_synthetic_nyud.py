# KDAM in this project: the student fcn_r18_mtl_synthetic_nyud.py distilled from
# the teacher of fcn_r18-wide_mtl_teacher_synthetic_nyud.py (CS divergence on every
# task's logits, alpha = beta = 1). Train the teacher first, from this folder:
#   python $MMMTL/tools/train.py configs/fcn_r18-wide_mtl_teacher_synthetic_nyud.py
# teacher_cfg and teacher_ckpt are relative to the working directory (this folder);
# teacher_ckpt is the teacher's work dir, whose last_checkpoint file names the checkpoint.
_base_ = ['./fcn_r18_mtl_synthetic_nyud.py']
model = dict(
    _delete_=True,
    type='KDAMDistiller',
    student={{_base_.model}},
    teacher_cfg='configs/fcn_r18-wide_mtl_teacher_synthetic_nyud.py',
    teacher_ckpt='work_dirs/fcn_r18-wide_mtl_teacher_synthetic_nyud',
    distill_losses=dict(
        semseg=dict(type='CSDivergenceLoss', mode='channel', tau=1.0),
        depth=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        normal=dict(type='CSDivergenceLoss', mode='spatial', tau=1.0),
        edge=dict(type='CSDivergenceLoss', mode='binary', tau=1.0)),
    alpha=1.0,
    beta=1.0)
