"""Convert a released InvPT checkpoint (Ye and Xu, ECCV 2022) to mmmtl.

The authors (github.com/prismformore/Multi-Task-Transformer, ``InvPT/``)
release ``torch.save({'model': ddp_model.state_dict(), 'optimizer': ...,
'scheduler': ..., 'epoch': ..., 'iter_count': ...})``: their ``TransformerNet``
under a DDP ``module.`` prefix. This tool reads it with ``weights_only``
loading, maps every key to the ``MultiTaskEncoderDecoder`` (``TimmNCHWBackbone``
ViT + ``InvPTDecoder``) of an mmmtl config, checks that the result loads
strictly, and writes an mmmtl checkpoint. Use one of the ``*_released.py``
configs: they compute the authors' forward (no block-18 skip, see below).

Keys the authors' model holds but their forward never uses (dropped):

- ``multi_task_decoder.scale_embed.2``: the block-18 projection, built but
  never added (stage 1 of their ``InvPTStage`` has no up-embedding, where
  the skip is added);
- ``multi_task_decoder.invpt.redu_chan.0``: stage 1 is not reduced;
- ``multi_task_decoder.invpt.norm_mt``: never called;
- ``multi_task_decoder.invpt.invpt_stages.0.blocks.0.attn.fuse_attn``: the
  first stage has no previous attention to fuse.

The authors' final 3x3 convs (``mt_proj``) have a bias before their
BatchNorm; mmmtl's have none. The bias is folded into the BatchNorm's running
mean (``mean - bias``), which gives the same output in eval mode, and in
training mode the bias cancels anyway.

Example:
    python tools/model_converters/invpt2mmmtl.py InvPT_nyud.pth \
        configs/mtl/invpt_vitL_nyud-448x576_released.py checkpoints/invpt_vitL_nyud.pth
"""
import re
from typing import Dict, Sequence

import torch
from torch import Tensor

from mmmtl.utils.checkpoint_conversion import (
    BN_KEYS,
    KeyTaker,
    convert_file,
    converter_args,
    task_correspondence,
)

UNUSED = (r'multi_task_decoder\.scale_embed\.2\.', r'multi_task_decoder\.invpt\.redu_chan\.0\.',
          r'multi_task_decoder\.invpt\.norm_mt\.',
          r'multi_task_decoder\.invpt\.invpt_stages\.0\.blocks\.0\.attn\.fuse_attn\.')
DEC = 'multi_task_decoder.'
INV = DEC + 'invpt.'


def parse_args():
    return converter_args('released InvPT checkpoint -> mmmtl checkpoint')


def _conv_bn(take: KeyTaker, src: str, dst: str, bn: str, out: Dict[str, Tensor]) -> None:
    """A conv without bias (``src``) and its BatchNorm (``bn``) -> a ConvModule ``dst``."""
    out[f'{dst}.conv.weight'] = take.take(f'{src}.weight')
    take.copy(out, bn, f'{dst}.bn', BN_KEYS)


def _task_blocks(tensor: Tensor, order: Sequence[int], num_tasks: int) -> Tensor:
    """Reorder the ``num_tasks`` equal blocks of dim 0 from the authors' task order."""
    return torch.cat([tensor.chunk(num_tasks)[i] for i in order])


def convert(state: Dict[str, Tensor], tasks: Sequence[str], num_stages: int,
            source: str = '<checkpoint>') -> Dict[str, Tensor]:
    """Released InvPT ``TransformerNet`` state dict -> mmmtl state dict.

    Args:
        state: The state dict without the DDP prefix.
        tasks: mmmtl's task order (the decoder's ``tasks``).
        num_stages: Number of UP-Transformer stages (3 in the authors' model).

    Raises:
        KeyError: the tasks of the file and of ``tasks`` differ.
        ConversionError: keys are missing or left over (listed).
    """
    ours = task_correspondence(state, 'heads.', tasks, source)
    order = [ours[task][0] for task in tasks]  # authors' index of each mmmtl task
    take = KeyTaker(state, source)
    out: Dict[str, Tensor] = {}
    for key in state:
        if key.startswith('backbone.'):
            out['backbone.timm_model.model.' + key[len('backbone.'):]] = take.take(key)
    for task in tasks:
        t = ours[task][1]
        for j in range(2):
            _conv_bn(take, f'{DEC}preliminary_decoder.{t}.{j}.conv',
                     f'decoder.prelim.{task}.{j}', f'{DEC}preliminary_decoder.{t}.{j}.bn1', out)
        take.copy(out, f'{DEC}intermediate_head.{t}', f'decoder.prelim_heads.{task}')
        take.copy(out, f'{INV}mix_proj.{t}.0', f'decoder.mix.{task}')
        take.copy(out, f'heads.{t}.linear_pred', f'decoder.heads.{task}')
        # mt_proj: conv (with bias) + BN; the bias goes into the BN's running mean.
        _conv_bn(take, f'{INV}mt_proj.{t}.0', f'decoder.fuse_convs.{task}',
                 f'{INV}mt_proj.{t}.1', out)
        bias = take.take(f'{INV}mt_proj.{t}.0.bias')
        mean = out[f'decoder.fuse_convs.{task}.bn.running_mean']
        if bias is not None and mean is not None:
            out[f'decoder.fuse_convs.{task}.bn.running_mean'] = mean - bias
    # Encoder skips: scale_embed.0 (transposed conv) -> last stage, .1 -> second.
    for src, stage in ((0, num_stages - 1), (1, num_stages - 2)):
        take.copy(out, f'{DEC}scale_embed.{src}', f'decoder.skip_projs.{stage}')
    for i in range(num_stages):
        stage = f'{INV}invpt_stages.{i}.'
        block = stage + 'blocks.0.'
        dst = f'decoder.blocks.{i}.'
        if i > 0:
            for task in tasks:
                up = f'{stage}patch_embed.{ours[task][0]}.proj.'
                for j, (conv, bn) in enumerate(((1, 2), (4, 5)), start=1):
                    _conv_bn(take, f'{up}{conv}', f'decoder.up_embeds.{i - 1}.{task}.{j}',
                             f'{up}{bn}', out)
                take.copy(out, f'{INV}redu_chan.{i}.{ours[task][0]}',
                          f'decoder.reduce.{i - 1}.{task}')
            take.copy(out, block + 'attn.fuse_attn', dst + 'attn.fuse')
        for name in ('norm1', 'norm2'):
            take.copy(out, block + name, dst + name)
        take.copy(out, block + 'mlp.fc1', dst + 'mlp.0')
        take.copy(out, block + 'mlp.fc2', dst + 'mlp.2')
        for theirs_name, ours_name in (('proj_q', 'q_proj'), ('proj_k', 'k_proj'),
                                       ('proj_v', 'v_proj'), ('proj', 'proj')):
            take.copy(out, f'{block}attn.{theirs_name}', f'{dst}attn.{ours_name}')
        # One depthwise conv + BN per task -> one over the stacked task channels.
        q = f'{block}attn.conv_proj_q.'
        out[dst + 'attn.q_conv.weight'] = take.take_cat(
            f'{q}{ours[task][0]}.conv.weight' for task in tasks)
        for name in BN_KEYS[:4]:
            out[f'{dst}attn.q_norm.{name}'] = take.take_cat(
                f'{q}{ours[task][0]}.bn.{name}' for task in tasks)
        counts = [take.take(f'{q}{ours[task][0]}.bn.num_batches_tracked') for task in tasks]
        out[dst + 'attn.q_norm.num_batches_tracked'] = counts[0]
        for name in ('weight', 'bias'):
            norm = take.take(f'{INV}norm_mts.{i}.{name}')
            out[f'decoder.stage_norms.{i}.{name}'] = (
                None if norm is None else _task_blocks(norm, order, len(tasks)))
    take.drop(lambda key: any(re.match(pattern, key) for pattern in UNUSED))
    take.check()
    return out


def main() -> None:
    convert_file(parse_args(), lambda state, decoder, source: convert(
        state, decoder.tasks, decoder.num_stages, source), 'invpt2mmmtl')


if __name__ == '__main__':
    main()
