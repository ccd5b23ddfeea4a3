# fcn_r18_mtl_synthetic_nyud.py in an mmseg project that keeps mmseg's default scope: mmmtl's
# modules are named `mmmtl.<Type>` where the runner builds them (model, datasets, metric,
# visualizer, hooks). What an mmmtl module builds itself (the data preprocessor, the task
# heads and their losses, the dataset's transforms) is found in mmmtl's scope by its usual
# name. Run from this folder (docs/own_project.md):
#   python $MMMTL/tools/train.py configs/mmseg-scope_fcn_r18_mtl_synthetic_nyud.py
_base_ = ['./fcn_r18_mtl_synthetic_nyud.py']
default_scope = 'mmseg'
model = dict(type='mmmtl.MultiTaskEncoderDecoder')
train_dataloader = dict(dataset=dict(type='mmmtl.NYUDv2MTLDataset'))
val_dataloader = dict(dataset=dict(type='mmmtl.NYUDv2MTLDataset'))
test_dataloader = val_dataloader
val_evaluator = dict(type='mmmtl.MultiTaskMetric')
test_evaluator = val_evaluator
default_hooks = dict(
    non_finite_loss=dict(type='mmmtl.NonFiniteLossHook'),
    checkpoint=dict(type='mmmtl.AtomicCheckpointHook'),
    visualization=dict(type='mmmtl.MultiTaskVisualizationHook'))
visualizer = dict(type='mmmtl.MultiTaskVisualizer')
