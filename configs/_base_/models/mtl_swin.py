# ATRC-style multi-task baseline on a Swin Transformer (Swin-T by default):
# all four backbone outputs resized to stride 4 and concatenated
# (96 + 192 + 384 + 768 = 1440 channels), then one light head per task
# (3x3 conv -> SyncBN -> ReLU -> 1x1 conv, 96 channels, set on every head by
# shared_head_cfg): the heads come from heads_nyud.py / heads_pascal.py.
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
        type='SwinTransformer',
        pretrain_img_size=224,
        embed_dims=96,
        patch_size=4,
        window_size=7,
        mlp_ratio=4,
        depths=(2, 2, 6, 2),
        num_heads=(3, 6, 12, 24),
        strides=(4, 2, 2, 2),
        out_indices=(0, 1, 2, 3),
        qkv_bias=True,
        qk_scale=None,
        patch_norm=True,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.1,
        use_abs_pos_embed=False,
        act_cfg=dict(type='GELU'),
        norm_cfg=dict(type='LN', requires_grad=True),
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/'
            'swin_tiny_patch4_window7_224_20220317-1cdeb081.pth')),
    neck=dict(type='MultiScaleConcatNeck', in_channels=[96, 192, 384, 768]),
    shared_head_cfg=dict(channels=96, norm_cfg=dict(type='SyncBN', requires_grad=True)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
