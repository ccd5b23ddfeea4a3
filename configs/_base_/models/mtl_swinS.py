# Swin-S variant of the ATRC-style multi-task baseline (see mtl_swin.py).
_base_ = ['./mtl_swin.py']
model = dict(
    backbone=dict(
        pretrain_img_size=224,
        embed_dims=96,
        depths=(2, 2, 18, 2),
        num_heads=(3, 6, 12, 24),
        window_size=7,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/'
            'swin_small_patch4_window7_224_20220317-7ba6d6dd.pth')),
    neck=dict(in_channels=[96, 192, 384, 768]),
)
