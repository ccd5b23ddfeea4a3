# swinT single-task baseline for saliency on PASCAL-Context (one backbone, one head).
_base_ = ['../mtl_swinT_40k_pascal-512x512.py']
model = dict(task_heads=dict(_delete_=True, saliency={{_base_.task_heads.saliency}}))
# The base's task_heads helper shrinks with the model (no stale copy in the dump).
task_heads = dict(_delete_=True, saliency={{_base_.task_heads.saliency}})
val_evaluator = dict(tasks=['saliency'], st_reference=None)
test_evaluator = val_evaluator
