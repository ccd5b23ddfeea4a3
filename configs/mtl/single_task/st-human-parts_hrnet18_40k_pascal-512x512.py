# hrnet18 single-task baseline for human_parts on PASCAL-Context (one backbone, one head).
_base_ = ['../mtl_hrnet18_40k_pascal-512x512.py']
model = dict(task_heads=dict(_delete_=True, human_parts={{_base_.task_heads.human_parts}}))
# The base's task_heads helper shrinks with the model (no stale copy in the dump).
task_heads = dict(_delete_=True, human_parts={{_base_.task_heads.human_parts}})
val_evaluator = dict(tasks=['human_parts'], st_reference=None)
test_evaluator = val_evaluator
