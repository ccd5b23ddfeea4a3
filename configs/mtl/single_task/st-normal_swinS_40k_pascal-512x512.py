# swinS single-task baseline for normal on PASCAL-Context (one backbone, one head).
_base_ = ['../mtl_swinS_40k_pascal-512x512.py']
model = dict(task_heads=dict(_delete_=True, normal={{_base_.task_heads.normal}}))
# The base's task_heads helper shrinks with the model (no stale copy in the dump).
task_heads = dict(_delete_=True, normal={{_base_.task_heads.normal}})
val_evaluator = dict(tasks=['normal'], st_reference=None)
test_evaluator = val_evaluator
