# InvPT (Ye and Xu, ECCV 2022) with its authors' main backbone, ViT-L/16
# (timm `vit_large_patch16_384`, stochastic depth 0.15). The decoder reads the
# outputs of blocks 6, 12, 18 (un-normalised) and 24 (after the final norm),
# all 1024 channels at stride 16:
# - preliminary decoder on block 24, resized to stride 32 (input_downsample 2);
# - three UP-Transformer stages at strides 32, 16, 8 with 576, 288, 144
#   channels (512 + 64 in the authors' code), 2 heads each, keys and values
#   average-pooled by 2, 4, 8;
# - encoder features: block 12 -> stage 2 (3x3 conv), block 6 -> stage 3
#   (stride-2 transposed conv), block 18 -> stage 1 (3x3 conv, resized to
#   stride 32). The authors' code builds the block-18 projection but never
#   adds it (their DDP runs with find_unused_parameters=True) while their
#   published size counts it; we use it, so every parameter trains.
# The backbone's pos_embed is sized for the training crop (set img_size in the
# dataset config); other sizes are interpolated (dynamic_img_size).
data_preprocessor = dict(
    type='MultiTaskDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    size_divisor=32,
    pad_val=0)
model = dict(
    type='MultiTaskEncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='TimmNCHWBackbone',
        model_name='vit_large_patch16_384',
        out_indices=(5, 11, 17, 23),
        final_norm=True,
        img_size=(512, 512),
        dynamic_img_size=True,
        drop_path_rate=0.15),
    decoder=dict(
        type='InvPTDecoder',
        in_channels=[1024, 1024, 1024, 1024],
        in_index=3,
        input_downsample=2,
        prelim_channels=512,
        channels=576,
        num_heads=(2, 2, 2),
        kv_strides=(2, 4, 8),
        skips=[dict(in_index=2), dict(in_index=1), dict(in_index=0, upsample=True)],
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        aux_loss_weights=dict(inter=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
