# The teacher of this project's KDAM pair: the multi-task model of
# fcn_r18_mtl_synthetic_nyud.py with a ResNet-18 twice as wide and wider heads.
_base_ = ['./fcn_r18_mtl_synthetic_nyud.py']
base_channels = 32
fcn_head = dict(in_channels=base_channels * 8, channels=64)
model = dict(
    backbone=dict(stem_channels=base_channels, base_channels=base_channels),
    task_heads=dict(
        semseg=dict(decode_head=fcn_head),
        depth=dict(decode_head=fcn_head),
        normal=dict(decode_head=fcn_head),
        edge=dict(decode_head=fcn_head)))
