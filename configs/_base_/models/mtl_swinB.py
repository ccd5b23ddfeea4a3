# Swin-B variant of the ATRC-style multi-task baseline (see mtl_swin.py).
_base_ = ['./mtl_swin.py']
model = dict(
    backbone=dict(
        pretrain_img_size=384,
        embed_dims=128,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        window_size=12,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/'
            'swin_base_patch4_window12_384_22k_20220317-e5c09f74.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024]),
)
