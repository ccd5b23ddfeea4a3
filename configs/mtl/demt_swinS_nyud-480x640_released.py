# The authors' released DeMT Swin-S on NYUD-v2 (yangyangxu0/DeMT, README "DeMT on NYUD-v2
# dataset"), converted with
#   python tools/model_converters/demt2mmmtl.py <downloaded .ckpt> <this config> <out .pth>
# It computes the authors' forward for one image (docs/model_zoo.md, "Released weights"):
# - the task interaction block as their nn.MultiheadAttention computes it on one image
#   (value and output projections: interaction_across_tasks=False); their code attends
#   across the images of a batch, mmmtl computes every image alone, as their test (one
#   image per GPU) does;
# - test images normalised with the ImageNet mean / std at their full 480x640, unpadded;
# - logits resized bilinearly to the input; semseg argmax, depth clamped at 0, normals
#   L2-normalised, edges sigmoid.
# Evaluate: python tools/test.py <this config> <converted .pth>
_base_ = ['./demt_swinS_40k_nyud-425x560.py']
data_preprocessor = dict(size_divisor=None)
decoder = dict(interaction_across_tasks=False)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(init_cfg=None),
    decoder=decoder)
