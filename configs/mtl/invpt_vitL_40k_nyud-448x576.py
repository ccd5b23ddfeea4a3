# InvPT (Ye and Xu, ECCV 2022) with ViT-L/16 on NYUD-v2: the authors' model and
# recipe (Adam lr 2e-5, wd 1e-6, poly, 40k iterations, crop 448x576, the
# initial predictions supervised like the final ones).
# Total batch 6 (2 images x 3 GPUs): bash tools/dist_train.sh <this config> 3
# ImageNet-21k ViT-L weights, converted once (pos_embed resized to the crop):
#   python tools/model_converters/timm_vit2mmmtl.py vit_large_patch16_384.augreg_in21k_ft_in1k pretrain/vit_large_p16_448x576.pth --img-size 448 576
_base_ = [
    '../_base_/models/invpt_vitL.py',
    '../_base_/models/invpt_tasks_nyud.py',
    '../_base_/datasets/invpt_nyud.py',
    '../_base_/default_runtime.py',
    '../_base_/schedules/invpt_40k.py',
]
model = dict(
    backbone=dict(
        img_size={{_base_.crop_size}},
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/vit_large_p16_448x576.pth')),
    decoder=dict(out_channels={{_base_.task_channels}}, task_losses={{_base_.task_losses}}))
train_dataloader = dict(batch_size=2)  # x 3 GPUs = the authors' total batch 6
val_evaluator = dict(type='MultiTaskMetric', tasks=['semseg', 'depth', 'normal', 'edge'], edge_max_dist=0.011)
test_evaluator = val_evaluator
