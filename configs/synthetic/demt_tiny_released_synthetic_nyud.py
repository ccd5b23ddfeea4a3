# The reduced DeMT of the converter fixture (tests/fixtures/converters/demt_tiny_nyud_*.pth,
# made from the authors' code by tools/model_converters/make_converter_fixtures.py) in the
# released configs' computation: Swin of width 8 (heads 1-2-2-4, two blocks per stage,
# window 7), DeMT head of width 32 with 4 heads. Its weights come from the converter:
#   python tools/model_converters/demt2mmmtl.py \
#       tests/fixtures/converters/demt_tiny_nyud_released.pth \
#       configs/synthetic/demt_tiny_released_synthetic_nyud.py work_dirs/demt_tiny.pth
# Data: python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud
_base_ = ['../mtl/demt_swinT_nyud-480x640_released.py']
decoder = dict(embed_dims=32, num_heads=4, norm_cfg=dict(type='BN', requires_grad=True))
model = dict(
    backbone=dict(embed_dims=8, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4)),
    neck=dict(in_channels=[8, 16, 32, 64]),
    decoder=decoder)
data_root = 'data/synthetic_nyud'
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(st_reference=None)
test_evaluator = val_evaluator
