# DeMT decoder on HRNet18 (nyud): d = 128 gives the authors' published HRNet18 size.
_base_ = ['./demt_nyud.py']
decoder = dict(embed_dims=128)
