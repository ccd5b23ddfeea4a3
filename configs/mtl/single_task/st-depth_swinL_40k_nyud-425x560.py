# swinL single-task baseline for depth on NYUD-v2 (one backbone, one head).
_base_ = ['../mtl_swinL_40k_nyud-425x560.py']
model = dict(task_heads=dict(_delete_=True, depth={{_base_.task_heads.depth}}))
# The base's task_heads helper shrinks with the model (no stale copy in the dump).
task_heads = dict(_delete_=True, depth={{_base_.task_heads.depth}})
val_evaluator = dict(tasks=['depth'], st_reference=None)
test_evaluator = val_evaluator
