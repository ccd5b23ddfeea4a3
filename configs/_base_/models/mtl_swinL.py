# Swin-L variant of the ATRC-style multi-task baseline (see mtl_swin.py).
_base_ = ['./mtl_swin.py']
model = dict(
    backbone=dict(
        pretrain_img_size=384,
        embed_dims=192,
        depths=(2, 2, 18, 2),
        num_heads=(6, 12, 24, 48),
        window_size=12,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/'
            'swin_large_patch4_window12_384_22k_20220412-6580f57d.pth')),
    neck=dict(in_channels=[192, 384, 768, 1536]),
)
