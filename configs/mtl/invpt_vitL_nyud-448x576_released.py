# The authors' released InvPT ViT-L on NYUD-v2 (prismformore/Multi-Task-Transformer,
# "Pre-trained InvPT models"; CC BY-NC 4.0), converted with
#   python tools/model_converters/invpt2mmmtl.py <downloaded .pth> <this config> <out .pth>
# It computes the authors' forward exactly (docs/model_zoo.md, "Released weights"):
# - no encoder skip into the first UP stage (their block-18 projection is never added);
# - test images normalised with the ImageNet mean / std and padded (0 after
#   normalisation, the image centred) to 448x576, the authors' TEST.SCALE, as their PadImage does;
# - logits resized bilinearly to the padded input, the padding cropped; semseg argmax,
#   depth clamped at 0, normals L2-normalised, edges sigmoid (their get_output).
# Evaluate: python tools/test.py <this config> <converted .pth>
_base_ = ['./invpt_vitL_40k_nyud-448x576.py']
data_preprocessor = dict(size={{_base_.crop_size}}, size_divisor=None, pad_center=True)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(init_cfg=None, drop_path_rate=0.),
    decoder=dict(skips=[None, dict(in_index=1), dict(in_index=0, upsample=True)]))
