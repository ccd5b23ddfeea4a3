# swinB single-task baseline for semseg on NYUD-v2 (one backbone, one head).
_base_ = ['../mtl_swinB_40k_nyud-425x560.py']
model = dict(task_heads=dict(_delete_=True, semseg={{_base_.task_heads.semseg}}))
# The base's task_heads helper shrinks with the model (no stale copy in the dump).
task_heads = dict(_delete_=True, semseg={{_base_.task_heads.semseg}})
val_evaluator = dict(tasks=['semseg'], st_reference=None)
test_evaluator = val_evaluator
