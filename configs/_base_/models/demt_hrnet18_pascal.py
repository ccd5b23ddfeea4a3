# DeMT decoder on HRNet18 (pascal): d = 128 gives the authors' published HRNet18 size.
_base_ = ['./demt_pascal.py']
decoder = dict(embed_dims=128)
