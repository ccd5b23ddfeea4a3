# Synthetic NYUD-v2-layout data, a small DeMT that trains on CPU in a few
# minutes: the student baseline's tiny Swin backbone, neck, data, schedule
# and runtime (mtl_student_synthetic_nyud.py), with a DeMT decoder of
# 32 channels (2 heads, 32-channel prediction heads) instead of the
# independent heads. Losses as configs/_base_/models/demt_nyud.py.
# Data: python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud
_base_ = ['./mtl_student_synthetic_nyud.py', '../_base_/models/demt_synthetic_nyud.py']
task_heads = None  # the base's independent heads are replaced by the decoder
model = dict(
    _delete_=True,
    type='MultiTaskEncoderDecoder',
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone={{_base_.model.backbone}},
    neck={{_base_.model.neck}},
    decoder={{_base_.decoder}})
