"""Check that a backbone's pretrained checkpoint fits before it is loaded.

mmengine's ``PretrainedInit`` and mmseg's ``SwinTransformer.init_weights``
load pretrained weights with ``strict=False``: a checkpoint of another
architecture, or one whose keys carry an unexpected prefix, is "loaded" with
only a warning in the log and the run trains from scratch. This module finds
such a checkpoint first and raises an error that names the keys at fault.
"""
import re
from typing import Dict, List, Mapping, Optional, Sequence
from urllib.error import URLError

import torch.nn as nn
from mmengine.runner import CheckpointLoader
from torch import Tensor

# Keys that backbones adapt themselves when shapes differ (window size,
# input resolution), so a shape mismatch there is not an error.
RESIZABLE_KEYS = ('relative_position_bias_table', 'absolute_pos_embed', 'pos_embed')


def key_list(keys: Sequence[str], limit: int = 8) -> str:
    """Format keys for an error message: the first ``limit`` (in order) and a count."""
    shown = ', '.join(list(keys)[:limit])
    return shown + (f', ... ({len(keys)} in total)' if len(keys) > limit else '')


def shape_mismatches(expected: Mapping[str, Tensor], state: Mapping,
                     ignore: Sequence[str] = ()) -> List[str]:
    """``'<key> <checkpoint shape> vs <model shape>'`` for every key of
    ``expected`` that ``state`` holds with another shape, except keys
    containing one of ``ignore``."""
    return [
        f'{key} {tuple(getattr(state[key], "shape", ()))} vs {tuple(value.shape)}'
        for key, value in expected.items()
        if key in state and tuple(getattr(state[key], 'shape', ())) != tuple(value.shape)
        and not any(part in key for part in ignore)
    ]


def state_dict_problems(expected: Mapping[str, Tensor], state: Mapping) -> List[str]:
    """What keeps ``state`` from loading strictly into a model whose state is ``expected``:
    missing keys, unexpected keys and shape mismatches, each naming the keys (empty if none)."""
    missing = [key for key in expected if key not in state]
    unexpected = [key for key in state if key not in expected]
    mismatched = shape_mismatches(expected, state)
    problems = []
    if missing:
        problems.append(f'missing keys: {key_list(missing)}')
    if unexpected:
        problems.append(f'unexpected keys: {key_list(unexpected)}')
    if mismatched:
        problems.append(f'shape mismatch (checkpoint vs model): {key_list(mismatched)}')
    return problems


def pretrained_state_dict(checkpoint: Mapping, backbone: nn.Module,
                          prefix: Optional[str] = None) -> Dict[str, Tensor]:
    """The tensors a backbone's ``Pretrained`` init would offer it.

    Mirrors the loaders: unwrap ``state_dict`` / ``model``, keep the keys under
    ``prefix`` (mmengine's ``PretrainedInit(prefix=...)``), drop a leading
    ``module.`` (DDP), and for mmseg's Swin, which does so itself, a leading
    ``backbone.``.
    """
    state = checkpoint
    for wrapper in ('state_dict', 'model'):
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
            break
    state = {key: value for key, value in state.items() if isinstance(value, Tensor)}
    if prefix:
        prefix = prefix if prefix.endswith('.') else prefix + '.'
        state = {key[len(prefix):]: value for key, value in state.items()
                 if key.startswith(prefix)}
    state = {re.sub(r'^module\.', '', key): value for key, value in state.items()}
    if type(backbone).__name__ == 'SwinTransformer':
        state = {re.sub(r'^backbone\.', '', key): value for key, value in state.items()}
    return state


def check_pretrained_fit(backbone: nn.Module, state: Mapping[str, Tensor], checkpoint: str,
                         min_coverage: float = 0.99) -> None:
    """Raise if ``state`` does not fit ``backbone``.

    Args:
        backbone: The module about to be initialised from ``state``.
        state: Output of :func:`pretrained_state_dict`.
        checkpoint: The checkpoint's name, for the message.
        min_coverage: Fraction of the backbone's tensor elements (parameters
            and buffers, ``num_batches_tracked`` aside) that must be found in
            ``state``. Small gaps are normal: ImageNet checkpoints lack the
            per-stage output norms that dense-prediction backbones add.

    Raises:
        ValueError: A tensor whose shape differs from the backbone's (except
            :data:`RESIZABLE_KEYS`), or too few elements covered; the message
            names the keys.
    """
    name = type(backbone).__name__
    expected = {key: value for key, value in backbone.state_dict().items()
                if not key.endswith('num_batches_tracked')}
    mismatched = shape_mismatches(expected, state, ignore=RESIZABLE_KEYS)
    if mismatched:
        raise ValueError(f'Pretrained checkpoint {checkpoint!r} does not fit {name}: shape '
                         f'mismatch (checkpoint vs model) for {key_list(mismatched)}. Is it '
                         'a checkpoint of another architecture or size?')
    missing = [key for key in expected if key not in state]
    total = sum(value.numel() for value in expected.values())
    covered = sum(value.numel() for key, value in expected.items() if key in state)
    if total and covered / total < min_coverage:
        hint = ('the checkpoint has no tensors' if not state else
                f'its keys look like {key_list(list(state), limit=4)}')
        raise ValueError(
            f'Pretrained checkpoint {checkpoint!r} does not fit {name}: it covers '
            f'{covered / total:.1%} of the backbone (min_coverage {min_coverage:.0%}); '
            f'missing keys: {key_list(missing)}; {hint}. Set init_cfg.prefix (e.g. '
            "'backbone.') for a full-model checkpoint, or convert the checkpoint "
            '(tools/model_converters/ in mmsegmentation).')


def pretrained_init_cfgs(backbone: nn.Module) -> List[Mapping]:
    """The ``Pretrained`` entries (with a checkpoint) of ``backbone.init_cfg``."""
    init_cfgs = getattr(backbone, 'init_cfg', None) or []
    if isinstance(init_cfgs, Mapping):
        init_cfgs = [init_cfgs]
    return [cfg for cfg in init_cfgs if cfg.get('type') == 'Pretrained' and cfg.get('checkpoint')]


def verify_backbone_pretrained(backbone: nn.Module, min_coverage: float = 0.99) -> None:
    """Check ``backbone.init_cfg``'s ``Pretrained`` checkpoint, if it has one."""
    for init_cfg in pretrained_init_cfgs(backbone):
        checkpoint = init_cfg['checkpoint']
        loaded = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        if not isinstance(loaded, Mapping):
            raise ValueError(f'Pretrained checkpoint {checkpoint!r} of '
                             f'{type(backbone).__name__} holds no state dict.')
        state = pretrained_state_dict(loaded, backbone, init_cfg.get('prefix'))
        check_pretrained_fit(backbone, state, checkpoint, min_coverage)


def download_failed(backbone: nn.Module, error: URLError) -> RuntimeError:
    """The error for pretrained weights that could not be downloaded (offline):
    what failed, and where docs/get_started.md tells how to run offline."""
    checkpoints = ', '.join(repr(cfg['checkpoint']) for cfg in pretrained_init_cfgs(backbone))
    return RuntimeError(
        f'{type(backbone).__name__}: cannot download the pretrained weights {checkpoints} '
        f'({getattr(error, "reason", error)}). Offline, put the file into torch\'s hub cache '
        '(~/.cache/torch/hub/checkpoints/) or set the backbone\'s init_cfg.checkpoint to a '
        'local copy (--cfg-options model.backbone.init_cfg.checkpoint=PATH; '
        'model.student.backbone... in a KDAM config): see docs/get_started.md, '
        '"Pretrained backbones (downloaded on first run)".')
