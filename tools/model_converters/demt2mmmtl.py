"""Convert a released DeMT checkpoint (Xu, Yang, Zhang, AAAI 2023) to mmmtl.

The authors (github.com/yangyangxu0/DeMT) release PyTorch Lightning 1.1
checkpoints: ``{'state_dict': LightningModule state, 'optimizer_states',
'lr_schedulers', 'callbacks', 'epoch', 'global_step', ...}`` with the Swin
backbone under ``backbone.`` and the ``DemtHead`` under ``head.``. This tool
reads it with ``weights_only`` loading (Lightning's callback classes, by which
the callback states are keyed, are allowed as names only), maps every key to
the ``MultiTaskEncoderDecoder`` (mmseg Swin + ``MultiScaleConcatNeck`` +
``DeMTDecoder``) of an mmmtl config, checks that the result loads strictly, and
writes an mmmtl checkpoint. Use a ``demt_*_released.py`` config: its decoder
computes the authors' task interaction for one image
(``interaction_across_tasks=False``).

Keys the authors' file holds but their forward never uses (dropped):

- ``head.defor_mixers.*.fn.0.offset``: a fixed offset buffer of their
  ``ChlSpl`` (the offsets come from its ``get_offset`` network);
- ``metrics_dict.*``: states of their evaluation metrics, if saved.

Their ``nn.MultiheadAttention`` projections (``in_proj_weight``, ``in_proj_bias``)
are split into the query / key / value projections of mmmtl's attention; the
per-task ``ModuleList`` entries follow their task order, read from the order of
their ``head.final_logits`` keys.

Example:
    python tools/model_converters/demt2mmmtl.py DeMT_swinS_nyud.ckpt \
        configs/mtl/demt_swinS_nyud-480x640_released.py checkpoints/demt_swinS_nyud.pth
"""
import argparse
import os
import os.path as osp
import re
from typing import Dict, List, Sequence

import torch
from mmengine.config import DictAction
from torch import Tensor

from mmmtl.utils.checkpoint_conversion import (
    KeyTaker,
    check_against_model,
    load_released_state_dict,
)

AUTHOR_TASKS = {'semseg': 'semseg', 'depth': 'depth', 'human_parts': 'human_parts',
                'sal': 'saliency', 'normals': 'normal', 'edge': 'edge'}
BN_BUFFERS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
UNUSED = (r'head\.defor_mixers\.\d+\.blocks\.\d+\.3\.fn\.0\.offset$', r'metrics_dict\.')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='released DeMT checkpoint -> mmmtl checkpoint')
    parser.add_argument('src', help='the released file (.ckpt / .pth) as downloaded')
    parser.add_argument('config', help='mmmtl config of the model (a demt_*_released.py config)')
    parser.add_argument('out', help='output checkpoint (.pth)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides of the config (key=value)')
    return parser.parse_args()


def author_tasks(state: Dict[str, Tensor], source: str) -> List[str]:
    """The authors' task names in their order (the order of their ModuleDict keys)."""
    found = list(dict.fromkeys(
        key.split('.')[2] for key in state if key.startswith('head.final_logits.')))
    unknown = sorted(set(found) - set(AUTHOR_TASKS))
    if not found or unknown:
        raise KeyError(f'{source}: not a DeMT state dict: task heads {found} (known: '
                       f'{list(AUTHOR_TASKS)}).')
    return found


def _copy(take: KeyTaker, src: str, dst: str, names: Sequence[str],
          out: Dict[str, Tensor]) -> None:
    for name in names:
        out[f'{dst}.{name}'] = take.take(f'{src}.{name}')


def _attention(take: KeyTaker, src: str, dst: str, out: Dict[str, Tensor]) -> None:
    """nn.MultiheadAttention (packed in-projection) -> TaskAttention's four projections."""
    for name in ('weight', 'bias'):
        packed = take.take(f'{src}.in_proj_{name}')
        for proj, part in zip(('q_proj', 'k_proj', 'v_proj'),
                              packed.chunk(3) if packed is not None else (None,) * 3):
            out[f'{dst}.{proj}.{name}'] = part
        out[f'{dst}.out_proj.{name}'] = take.take(f'{src}.out_proj.{name}')


def convert(state: Dict[str, Tensor], tasks: Sequence[str], mixer_depth: int = 1,
            source: str = '<checkpoint>') -> Dict[str, Tensor]:
    """Released DeMT LightningModule state dict -> mmmtl state dict.

    Args:
        state: The state dict (``backbone.*``, ``head.*``).
        tasks: mmmtl's task names (the decoder's ``tasks``).
        mixer_depth: Deformable mixer layers per task (1 in the authors' models).

    Raises:
        KeyError: the tasks of the file and of ``tasks`` differ.
        ConversionError: keys are missing or left over (listed).
    """
    theirs = author_tasks(state, source)
    ours = {AUTHOR_TASKS[task]: (i, task) for i, task in enumerate(theirs)}
    if sorted(ours) != sorted(tasks):
        raise KeyError(f'{source}: the released model predicts {sorted(ours)}, the config\'s '
                       f'decoder {sorted(tasks)}.')
    take = KeyTaker(state, source)
    out: Dict[str, Tensor] = {}
    for key in state:
        if key.startswith('backbone.'):  # the same (mmseg) Swin
            out[key] = take.take(key)
    _copy(take, 'head.linear1.0', 'decoder.input_proj.0', ('weight', 'bias'), out)
    _copy(take, 'head.linear1.1', 'decoder.input_proj.1', ('weight', 'bias'), out)
    _attention(take, 'head.task_fusion', 'decoder.interaction.attn', out)
    _copy(take, 'head.smlp.0', 'decoder.interaction.proj', ('weight', 'bias'), out)
    _copy(take, 'head.smlp.1', 'decoder.interaction.norm', ('weight', 'bias'), out)
    for task in tasks:
        index, name = ours[task]
        for layer in range(mixer_depth):
            src = f'head.defor_mixers.{index}.blocks.{layer}'
            dst = f'decoder.mixers.{task}.{layer}'
            _copy(take, f'{src}.0', f'{dst}.channel_mix', ('weight', 'bias'), out)
            _copy(take, f'{src}.2', f'{dst}.mix_norm', BN_BUFFERS, out)
            _copy(take, f'{src}.3.fn.0', f'{dst}.deform', ('weight', 'bias'), out)
            _copy(take, f'{src}.3.fn.0.get_offset.p_conv',
                  f'{dst}.deform.offset_predictor.displacement', ('weight', 'bias'), out)
            _copy(take, f'{src}.3.fn.0.get_offset.opt',
                  f'{dst}.deform.offset_predictor.to_offsets', ('weight', 'bias'), out)
            _copy(take, f'{src}.3.fn.2', f'{dst}.deform_norm', BN_BUFFERS, out)
        _attention(take, f'head.task_querys.{index}', f'decoder.task_queries.{task}.attn', out)
        _copy(take, f'head.smlp2.{index}.0', f'decoder.task_queries.{task}.proj',
              ('weight', 'bias'), out)
        _copy(take, f'head.smlp2.{index}.1', f'decoder.task_queries.{task}.norm',
              ('weight', 'bias'), out)
        _copy(take, f'head.bottleneck.{name}.conv', f'decoder.bottlenecks.{task}.conv',
              ('weight',), out)
        _copy(take, f'head.bottleneck.{name}.bn', f'decoder.bottlenecks.{task}.bn', BN_BUFFERS,
              out)
        _copy(take, f'head.final_logits.{name}', f'decoder.logits.{task}', ('weight', 'bias'),
              out)
    take.drop(lambda key: any(re.match(pattern, key) for pattern in UNUSED))
    take.check()
    return out


def main() -> None:
    args = parse_args()
    from mmmtl.apis import init_model
    model = init_model(args.config, None, cfg_options=args.cfg_options)
    decoder = model.decoder
    state = load_released_state_dict(args.src)
    converted = convert(state, decoder.tasks, len(decoder.mixers[decoder.tasks[0]]), args.src)
    check_against_model(converted, model.state_dict(), args.src, args.config)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(dict(meta=dict(converted_from=osp.basename(args.src), config=args.config,
                              converter='demt2mmmtl'), state_dict=converted), args.out)
    print(f'{args.out}: {len(converted)} tensors from {args.src} ({len(state)} keys).')


if __name__ == '__main__':
    main()
