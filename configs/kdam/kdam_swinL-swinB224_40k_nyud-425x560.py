# KDAM with a student of another size (not in the paper): Swin-L teacher -> Swin-B student
# (window 7, ImageNet-1k at 224) on NYUD-v2. Same backbone type as the Swin-T pair's, so
# its keys merge: only the sizes, the pretrained file and the neck's channels change.
_base_ = ['./kdam_swinL-swinT_40k_nyud-425x560.py']
model = dict(student=dict(
    backbone=dict(
        embed_dims=128,
        depths=(2, 2, 18, 2),
        num_heads=(4, 8, 16, 32),
        init_cfg=dict(checkpoint='https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/'
                      'swin/swin_base_patch4_window7_224_20220317-e9b98025.pth')),
    neck=dict(in_channels=[128, 256, 512, 1024])))
