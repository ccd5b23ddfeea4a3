# The small DeMT decoder of the synthetic configs: 32 channels, 2 heads,
# 32-channel prediction heads, plain BN (one process on CPU).
_base_ = ['./demt_nyud.py']
decoder = dict(embed_dims=32, num_heads=2, bottleneck_channels=32,
               norm_cfg=dict(type='BN', requires_grad=True))
