# The reduced InvPT of the converter fixture (tests/fixtures/converters/invpt_tiny_nyud_*.pth,
# made from the authors' code by tools/model_converters/make_converter_fixtures.py) in the
# released configs' computation: ViT of 4 blocks of width 32 (2 heads), features after
# blocks 1, 2, 3 and the normed block 4; preliminary decoder 32, UP stages 48 / 24 / 12;
# inputs padded to 128x192 (the fixture's size). Its weights come from the converter:
#   python tools/model_converters/invpt2mmmtl.py \
#       tests/fixtures/converters/invpt_tiny_nyud_released.pth \
#       configs/synthetic/invpt_tiny_released_synthetic_nyud.py work_dirs/invpt_tiny.pth
# Data: python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud
_base_ = ['../mtl/invpt_vitL_nyud-448x576_released.py']
crop_size = (128, 192)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(img_size=crop_size, embed_dim=32, depth=4, num_heads=2,
                  out_indices=(0, 1, 2, 3)),
    decoder=dict(in_channels=[32, 32, 32, 32], prelim_channels=32, channels=48,
                 norm_cfg=dict(type='BN', requires_grad=True)))
data_root = 'data/synthetic_nyud'
val_dataloader = dict(batch_size=2, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
