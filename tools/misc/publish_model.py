"""Prepare a checkpoint for publishing, as mmseg's tool: keep the weights and ``meta``
only (no optimizer, scheduler or message-hub state) and name the file after its
SHA-256 (``<out>-<first 8 hex digits>.pth``), as OpenMMLab model zoos do.

A KDAM run's checkpoint holds the ``KDAMDistiller`` (keys ``student.*``), which
loads with the KDAM config; to publish the student alone, extract it first with
``tools/model_converters/extract_student.py``.

Example:
    python tools/misc/publish_model.py \\
        work_dirs/mtl/swinT_nyud/iter_40000.pth mtl_swinT_nyud.pth
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
from typing import List, Optional

import torch
from mmengine.runner.checkpoint import CheckpointLoader

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import mmmtl  # noqa: E402,F401  (allow-lists mmengine's checkpoint types for weights_only)

KEPT_KEYS = ('meta', 'state_dict')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Process a checkpoint to be published')
    parser.add_argument('in_file', help='input checkpoint filename')
    parser.add_argument('out_file', help='output checkpoint filename (the hash is appended)')
    return parser.parse_args(argv)


def process_checkpoint(in_file: str, out_file: str) -> str:
    """Write the published checkpoint; return its final path."""
    checkpoint = CheckpointLoader.load_checkpoint(in_file, map_location='cpu')
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise KeyError(f'{in_file}: no `state_dict` in this checkpoint.')
    published = {key: checkpoint[key] for key in KEPT_KEYS if key in checkpoint}
    dropped = sorted(set(checkpoint) - set(KEPT_KEYS))
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    torch.save(published, out_file)
    with open(out_file, 'rb') as handle:
        sha = hashlib.sha256(handle.read()).hexdigest()
    final_file = f'{osp.splitext(out_file)[0]}-{sha[:8]}.pth'
    os.replace(out_file, final_file)
    print(f'Published {final_file} (dropped {dropped or "nothing"}).')
    if any(key.startswith('student.') for key in published['state_dict']):
        print('This is a KDAMDistiller checkpoint; to publish the student alone, extract '
              'it first with tools/model_converters/extract_student.py.')
    return final_file


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    process_checkpoint(args.in_file, args.out_file)


if __name__ == '__main__':
    main()
