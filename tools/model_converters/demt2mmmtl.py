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
import re
from typing import Dict, Sequence

from torch import Tensor

from mmmtl.utils.checkpoint_conversion import (
    BN_KEYS,
    KeyTaker,
    convert_file,
    converter_args,
    task_correspondence,
)

UNUSED = (r'head\.defor_mixers\.\d+\.blocks\.\d+\.3\.fn\.0\.offset$', r'metrics_dict\.')


def parse_args():
    return converter_args('released DeMT checkpoint -> mmmtl checkpoint')


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
    ours = task_correspondence(state, 'head.final_logits.', tasks, source)
    take = KeyTaker(state, source)
    out: Dict[str, Tensor] = {}
    for key in state:
        if key.startswith('backbone.'):  # the same (mmseg) Swin
            out[key] = take.take(key)
    take.copy(out, 'head.linear1.0', 'decoder.input_proj.0')
    take.copy(out, 'head.linear1.1', 'decoder.input_proj.1')
    _attention(take, 'head.task_fusion', 'decoder.interaction.attn', out)
    take.copy(out, 'head.smlp.0', 'decoder.interaction.proj')
    take.copy(out, 'head.smlp.1', 'decoder.interaction.norm')
    for task in tasks:
        index, name = ours[task]
        for layer in range(mixer_depth):
            src = f'head.defor_mixers.{index}.blocks.{layer}'
            dst = f'decoder.mixers.{task}.{layer}'
            take.copy(out, f'{src}.0', f'{dst}.channel_mix')
            take.copy(out, f'{src}.2', f'{dst}.mix_norm', BN_KEYS)
            take.copy(out, f'{src}.3.fn.0', f'{dst}.deform')
            offsets = f'{dst}.deform.offset_predictor'
            take.copy(out, f'{src}.3.fn.0.get_offset.p_conv', f'{offsets}.displacement')
            take.copy(out, f'{src}.3.fn.0.get_offset.opt', f'{offsets}.to_offsets')
            take.copy(out, f'{src}.3.fn.2', f'{dst}.deform_norm', BN_KEYS)
        query = f'decoder.task_queries.{task}'
        _attention(take, f'head.task_querys.{index}', f'{query}.attn', out)
        take.copy(out, f'head.smlp2.{index}.0', f'{query}.proj')
        take.copy(out, f'head.smlp2.{index}.1', f'{query}.norm')
        take.copy(out, f'head.bottleneck.{name}.conv', f'decoder.bottlenecks.{task}.conv',
                  ('weight',))
        take.copy(out, f'head.bottleneck.{name}.bn', f'decoder.bottlenecks.{task}.bn', BN_KEYS)
        take.copy(out, f'head.final_logits.{name}', f'decoder.logits.{task}')
    take.drop(lambda key: any(re.match(pattern, key) for pattern in UNUSED))
    take.check()
    return out


def main() -> None:
    convert_file(parse_args(), lambda state, decoder, source: convert(
        state, decoder.tasks, len(decoder.mixers[decoder.tasks[0]]), source), 'demt2mmmtl')


if __name__ == '__main__':
    main()
