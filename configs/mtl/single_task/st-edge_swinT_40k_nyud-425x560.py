# swinT single-task baseline for edge on NYUD-v2 (one backbone, one head).
_base_ = ['../mtl_swinT_40k_nyud-425x560.py']
model = dict(task_heads=dict(_delete_=True, edge={{_base_.task_heads.edge}}))
# The base's task_heads helper shrinks with the model (no stale copy in the dump).
task_heads = dict(_delete_=True, edge={{_base_.task_heads.edge}})
val_evaluator = dict(tasks=['edge'], st_reference=None)
test_evaluator = val_evaluator
