# swinL single-task baseline for normal on NYUD-v2 (one backbone, one head).
_base_ = ['../swinL_nyud.py']
model = dict(task_heads=dict(
    _delete_=True,
    normal={{_base_.model.task_heads.normal}}))
val_evaluator = dict(tasks=['normal'], st_reference=None)
test_evaluator = val_evaluator
