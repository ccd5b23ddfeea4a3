# swinS single-task baseline for saliency on PASCAL-Context (one backbone, one head).
_base_ = ['../swinS_pascal.py']
model = dict(task_heads=dict(
    _delete_=True,
    saliency={{_base_.model.task_heads.saliency}}))
val_evaluator = dict(tasks=['saliency'], st_reference=None)
test_evaluator = val_evaluator
