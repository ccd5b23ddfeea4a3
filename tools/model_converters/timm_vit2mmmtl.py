"""Turn timm ViT weights into a ``Pretrained`` checkpoint of mmmtl's ``TimmNCHWBackbone``.

``TimmNCHWBackbone`` (with ``final_norm=True``, as the InvPT ViT configs use it)
holds the timm model under ``timm_model.model.`` and sizes its position
embedding for the training crop. This tool prefixes the keys, drops the
classifier and resamples ``pos_embed`` (bicubic, as timm does) from the
checkpoint's grid to the crop's, so that the backbone loads every tensor.

The source is a checkpoint file (``.pth`` / ``.bin`` / ``.safetensors``, a
timm ViT state dict, optionally under ``state_dict`` or ``model``) or a timm
model name with its pretrained tag, downloaded through timm.

Example:
    python tools/model_converters/timm_vit2mmmtl.py \
        vit_large_patch16_384.augreg_in21k_ft_in1k pretrain/vit_large_p16_448x576.pth \
        --img-size 448 576
"""
import argparse
import math
import os
import os.path as osp
from typing import Dict, Sequence

import torch
from torch import Tensor

PREFIX = 'timm_model.model.'
CLASSIFIER_KEYS = ('head.', 'head_dist.', 'pre_logits.')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='timm ViT weights -> TimmNCHWBackbone checkpoint')
    parser.add_argument('src', help='checkpoint file, or timm model name with pretrained tag '
                        '(downloaded through timm)')
    parser.add_argument('out', help='output checkpoint (.pth)')
    parser.add_argument('--img-size', type=int, nargs=2, required=True, metavar=('H', 'W'),
                        help='the img_size of the backbone in the config (the training crop)')
    return parser.parse_args()


def load_source(src: str) -> Dict[str, Tensor]:
    """The ViT state dict of a checkpoint file or a timm pretrained model name."""
    if osp.isfile(src):
        if src.endswith('.safetensors'):
            from safetensors.torch import load_file
            state = load_file(src)
        else:
            state = torch.load(src, map_location='cpu', weights_only=True)
        for wrapper in ('state_dict', 'model'):
            if isinstance(state, dict) and isinstance(state.get(wrapper), dict):
                state = state[wrapper]
                break
        return state
    import timm
    if src.split('.')[0] not in timm.list_models():
        raise FileNotFoundError(f'{src!r} is neither a file nor a timm model name.')
    return timm.create_model(src, pretrained=True).state_dict()


def _prefix_tokens(num_tokens: int) -> int:
    for prefix in (1, 0, 2):  # class token; none; class + distillation token
        side = math.isqrt(max(num_tokens - prefix, 0))
        if side * side == num_tokens - prefix:
            return prefix
    raise ValueError(f'pos_embed has {num_tokens} tokens: not a square grid plus 0-2 prefix '
                     'tokens.')


def convert(state: Dict[str, Tensor], img_size: Sequence[int],
            source: str = '<checkpoint>') -> Dict[str, Tensor]:
    """Prefixed state dict with ``pos_embed`` resampled to ``img_size`` (H, W).

    Raises:
        KeyError: if ``state`` has no ``pos_embed`` / ``patch_embed.proj.weight``
            (not a timm ViT).
        ValueError: if ``img_size`` is not a multiple of the patch size.
    """
    from timm.layers import resample_abs_pos_embed
    for key in ('pos_embed', 'patch_embed.proj.weight'):
        if key not in state:
            raise KeyError(f'{source}: no {key!r}; not a timm ViT state dict (first keys: '
                           f'{list(state)[:5]}).')
    patch = state['patch_embed.proj.weight'].shape[-1]
    height, width = img_size
    if height % patch or width % patch:
        raise ValueError(f'--img-size {height} {width} is not a multiple of the patch size '
                         f'{patch}.')
    pos_embed = state['pos_embed']
    prefix = _prefix_tokens(pos_embed.shape[1])
    out = {}
    for key, value in state.items():
        if key.startswith(CLASSIFIER_KEYS):
            continue
        if key == 'pos_embed':
            value = resample_abs_pos_embed(value.float(), [height // patch, width // patch],
                                           num_prefix_tokens=prefix).to(pos_embed.dtype)
        out[PREFIX + key] = value
    return out


def main() -> None:
    args = parse_args()
    state = convert(load_source(args.src), args.img_size, args.src)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    torch.save(dict(meta=dict(converted_from=args.src, img_size=list(args.img_size)),
                    state_dict=state), args.out)
    grid = state[PREFIX + 'pos_embed'].shape[1]
    print(f'{args.out}: {len(state)} tensors, pos_embed of {grid} tokens for '
          f'{args.img_size[0]}x{args.img_size[1]}')


if __name__ == '__main__':
    main()
