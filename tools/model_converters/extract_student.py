"""Turn a KDAM distillation checkpoint into a plain student checkpoint.

A distillation run saves the ``KDAMDistiller``'s state dict, whose keys start
with ``student.``. This tool strips that prefix so that the student's own
config (e.g. ``configs/mtl/mtl_swinT_40k_nyud-425x560.py``) loads the result with
``tools/test.py``. ``meta`` is kept; the optimizer, scheduler and message-hub
states (only useful to resume the distillation) are dropped unless
``--keep-optimizer`` is given.

Example:
    python tools/model_converters/extract_student.py \
        work_dirs/kdam_swinL-swinT_40k_nyud-425x560/iter_40000.pth kdam_swinT_nyud.pth
    python tools/test.py configs/mtl/mtl_swinT_40k_nyud-425x560.py kdam_swinT_nyud.pth
"""
import argparse
import os
import os.path as osp
from typing import Dict, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

import mmmtl  # noqa: F401  (allow-lists mmengine's checkpoint types for weights_only)

STUDENT_PREFIX = 'student.'
RESUME_KEYS = ('optimizer', 'param_schedulers', 'message_hub')


def extract_student(checkpoint: Dict, source: str = '<checkpoint>',
                    keep_optimizer: bool = False) -> Dict:
    """Return a student checkpoint from a distillation ``checkpoint`` dict.

    Args:
        checkpoint: A loaded distillation checkpoint (with ``state_dict``).
        source: Its file name, for error messages.
        keep_optimizer: Keep the optimizer / scheduler / message-hub states.

    Raises:
        KeyError: if ``checkpoint`` has no ``state_dict`` or none of its keys
            start with ``student.``.
    """
    state = checkpoint.get('state_dict') if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict):
        raise KeyError(f'{source}: no `state_dict` in this checkpoint.')
    student = {
        key[len(STUDENT_PREFIX):]: value
        for key, value in state.items() if key.startswith(STUDENT_PREFIX)
    }
    if not student:
        raise KeyError(f'{source}: no key starts with {STUDENT_PREFIX!r}; it is not a '
                       f'KDAMDistiller checkpoint (first keys: {list(state)[:5]}).')
    others = sorted({key.split('.')[0] for key in state if not key.startswith(STUDENT_PREFIX)})
    if others:
        print(f'{source}: dropping non-student entries {others}')
    meta = dict(checkpoint.get('meta') or {})
    meta['extracted_from'] = source
    out = dict(meta=meta, state_dict=student)
    if keep_optimizer:
        out.update({key: checkpoint[key] for key in RESUME_KEYS if key in checkpoint})
    return out


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Extract the student of a KDAM distillation checkpoint')
    parser.add_argument('src', help='distillation checkpoint (e.g. work_dirs/<run>/iter_N.pth)')
    parser.add_argument('dst', help='output student checkpoint')
    parser.add_argument('--keep-optimizer', action='store_true',
                        help='keep optimizer, scheduler and message-hub states')
    return parser.parse_args(argv)


def main(argv: Optional[list] = None) -> None:
    args = parse_args(argv)
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'Checkpoint {args.src!r} does not exist.')
    checkpoint = CheckpointLoader.load_checkpoint(args.src, map_location='cpu')
    student = extract_student(checkpoint, args.src, args.keep_optimizer)
    out_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(out_dir, exist_ok=True)
    torch.save(student, args.dst)
    print(f'Saved the student ({len(student["state_dict"])} tensors) to {args.dst}')


if __name__ == '__main__':
    main()
