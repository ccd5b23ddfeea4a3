# InvPT on Swin-T ("InvPT-T" in the KDAM paper, Table 2). The authors publish
# no Swin code; this follows their ViT-L decoder (invpt_vitL.py) on Swin-T's
# outputs at strides 8, 16, 32 (192, 384, 768 channels; the stride-4 output
# is not used):
# - preliminary decoder on the stride-32 output (input_downsample 1);
# - UP-Transformer stages at strides 32, 16, 8 (576, 288, 144 channels);
# - encoder features: stride 16 -> stage 2, stride 8 -> stage 3 (3x3 convs);
#   the first stage reads the preliminary decoder only.
# Backbone as in mtl_swin.py, with the authors' stochastic depth 0.15.
_base_ = ['./mtl_swin.py']
model = dict(
    backbone=dict(drop_path_rate=0.15, out_indices=(1, 2, 3)),
    neck=None,
    decoder=dict(
        type='InvPTDecoder',
        in_channels=[192, 384, 768],
        in_index=2,
        input_downsample=1,
        prelim_channels=512,
        channels=576,
        num_heads=(2, 2, 2),
        kv_strides=(2, 4, 8),
        skips=[None, dict(in_index=1), dict(in_index=0)],
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        aux_loss_weights=dict(inter=1.0)))
