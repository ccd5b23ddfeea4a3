"""Read other frameworks' released checkpoints and rename their keys for mmmtl.

Used by ``tools/model_converters/invpt2mmmtl.py`` and ``demt2mmmtl.py``. A
released file is read with ``torch.load(weights_only=True)`` only (plain
containers, numbers and tensors; mmengine's allow-listed types): a file that
needs anything else is refused, never unpickled. Every key of the released
state dict is either mapped to a key of the mmmtl model, or named by the
converter as unused by the authors' forward; anything left over, and any key
the model has that no released key fills, is an error that lists the keys.
"""
import argparse
import os
import os.path as osp
import pickle
import zipfile
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .checkpoint import allow_mmengine_checkpoint_types

# Task names of the MTI-Net / ATRC code family (InvPT, DeMT) -> mmmtl's.
AUTHOR_TASKS = {'semseg': 'semseg', 'depth': 'depth', 'human_parts': 'human_parts',
                'sal': 'saliency', 'normals': 'normal', 'edge': 'edge'}
BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked')
STATE_KEYS = ('model', 'state_dict')  # containers of the authors' and mmengine's files
# PyTorch Lightning < 1.5 keys the callback states in its checkpoints by the callback's
# class (DeMT's files): the names are allowed, resolved to inert stand-ins (never called).
LIGHTNING_CALLBACKS = ('pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint',
                       'pytorch_lightning.callbacks.early_stopping.EarlyStopping',
                       'pytorch_lightning.callbacks.lr_monitor.LearningRateMonitor')


def _allow_lightning_callback_names() -> None:
    stand_ins = [(type(name.rsplit('.', 1)[1], (), {'__doc__': f'Stand-in for {name}.'}), name)
                 for name in LIGHTNING_CALLBACKS]
    torch.serialization.add_safe_globals(stand_ins)


class ConversionError(ValueError):
    """A released checkpoint cannot be converted (message names the file)."""


def load_released_state_dict(path: str) -> Dict[str, Tensor]:
    """The state dict in a released checkpoint, without a DDP ``module.`` prefix.

    Accepts a bare state dict or a dict holding it under ``'model'`` (InvPT's
    training script) or ``'state_dict'`` (mmengine, PyTorch Lightning: DeMT);
    optimizer, scheduler and callback states beside it are ignored.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ConversionError: the file is not a PyTorch checkpoint (truncated,
            corrupted, another format), needs unpickling of objects other
            than tensors and plain containers, or holds no state dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Released checkpoint {path!r} does not exist.')
    allow_mmengine_checkpoint_types()
    _allow_lightning_callback_names()
    try:
        checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ''
        raise ConversionError(
            f'{path}: refused to unpickle it with weights_only=True: it holds objects other '
            f'than tensors and plain containers ({first_line}). Only weights are read from '
            'released files; re-save its state dict with torch.save(state_dict).') from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        raise ConversionError(f'{path}: not a readable PyTorch checkpoint (truncated or '
                              f'corrupted download?): {type(error).__name__}: {error}') from error
    state = checkpoint
    if isinstance(checkpoint, dict):
        for key in STATE_KEYS:
            if isinstance(checkpoint.get(key), dict):
                state = checkpoint[key]
                break
    if (not isinstance(state, dict) or not state
            or not all(isinstance(value, Tensor) for value in state.values())):
        found = sorted(map(str, checkpoint)) if isinstance(checkpoint, dict) else [
            type(checkpoint).__name__]
        raise ConversionError(f'{path}: holds no state dict (a dict of tensors, bare or under '
                              f"{' / '.join(repr(k) for k in STATE_KEYS)}); found {found[:8]}.")
    if all(key.startswith('module.') for key in state):
        state = {key[len('module.'):]: value for key, value in state.items()}
    return state


class KeyTaker:
    """Hands out the tensors of a source state dict and remembers what was taken.

    Args:
        state: The released state dict.
        source: Its file name, for error messages.
    """

    def __init__(self, state: Mapping[str, Tensor], source: str) -> None:
        self.state = dict(state)
        self.source = source
        self.taken: set = set()
        self.absent: List[str] = []

    def take(self, key: str) -> Optional[Tensor]:
        """The tensor under ``key``; a missing key is recorded (error at :meth:`check`)."""
        if key not in self.state:
            self.absent.append(key)
            return None
        self.taken.add(key)
        return self.state[key]

    def copy(self, out: Dict[str, Optional[Tensor]], src: str, dst: str,
             names: Sequence[str] = ('weight', 'bias')) -> None:
        """``out[dst.name] = state[src.name]`` for every name."""
        for name in names:
            out[f'{dst}.{name}'] = self.take(f'{src}.{name}')

    def take_cat(self, keys: Iterable[str], dim: int = 0) -> Optional[Tensor]:
        """The tensors under ``keys`` concatenated along ``dim``."""
        parts = [self.take(key) for key in keys]
        return None if any(part is None for part in parts) else torch.cat(parts, dim=dim)

    def drop(self, is_unused: Callable[[str], bool]) -> List[str]:
        """Mark the keys ``is_unused`` accepts as consumed; return them."""
        unused = [key for key in self.state if key not in self.taken and is_unused(key)]
        self.taken.update(unused)
        return unused

    def check(self) -> None:
        """Raise if a key was asked for but absent, or a released key was never used."""
        problems = []
        if self.absent:
            problems.append(f'missing in the released file: {_keys(self.absent)}')
        left = [key for key in self.state if key not in self.taken]
        if left:
            problems.append(f'not used by the conversion (unknown to mmmtl and not among the '
                            f'documented unused keys): {_keys(left)}')
        if problems:
            raise ConversionError(f'{self.source}: ' + '; '.join(problems) + '.')


def _keys(keys: List[str], limit: int = 12) -> str:
    shown = ', '.join(keys[:limit])
    return shown + (f', ... ({len(keys)} in total)' if len(keys) > limit else '')


def check_against_model(converted: Mapping[str, Tensor], expected: Mapping[str, Tensor],
                        source: str, config: str) -> None:
    """Raise unless ``converted`` loads strictly into a model whose state is ``expected``."""
    from mmmtl.models.utils import state_dict_problems
    problems = state_dict_problems(expected, converted)
    if problems:
        raise ConversionError(f'{source}: the converted weights do not fit the model of '
                              f'{config}: ' + '; '.join(problems) + '.')


def task_correspondence(state: Mapping[str, Tensor], head_prefix: str, tasks: Sequence[str],
                        source: str) -> Dict[str, Tuple[int, str]]:
    """``{mmmtl task: (authors' index, authors' name)}``.

    The authors' tasks and their order (that of their per-task ``ModuleList``
    entries) are read from the order of the keys ``<head_prefix><task>.*`` (a
    ``ModuleDict`` built in task order).

    Raises:
        KeyError: unknown task names, or other tasks than ``tasks``.
    """
    theirs = list(dict.fromkeys(
        key[len(head_prefix):].split('.')[0] for key in state if key.startswith(head_prefix)))
    unknown = sorted(set(theirs) - set(AUTHOR_TASKS))
    if not theirs or unknown:
        raise KeyError(f'{source}: task heads {theirs} under {head_prefix!r} (known: '
                       f'{list(AUTHOR_TASKS)}): not the expected model.')
    ours = {AUTHOR_TASKS[name]: (index, name) for index, name in enumerate(theirs)}
    if sorted(ours) != sorted(tasks):
        raise KeyError(f"{source}: the released model predicts {sorted(ours)}, the config's "
                       f'decoder {sorted(tasks)}.')
    return ours


def converter_args(description: str) -> argparse.Namespace:
    """Command line of a released-checkpoint converter: ``src config out [--cfg-options]``."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('src', help='the released file as downloaded')
    parser.add_argument('config', help='mmmtl config of the model (a *_released.py config)')
    parser.add_argument('out', help='output checkpoint (.pth)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={},
                        help='overrides of the config (key=value)')
    return parser.parse_args()


def convert_file(args: argparse.Namespace, convert: Callable[..., Dict[str, Tensor]],
                 converter: str) -> None:
    """Build the config's model, convert ``args.src`` with ``convert(state, decoder,
    source)``, check the strict fit and write ``{'meta', 'state_dict'}`` to ``args.out``."""
    from mmmtl.apis import init_model
    model = init_model(args.config, None, cfg_options=args.cfg_options)
    state = load_released_state_dict(args.src)
    converted = convert(state, model.decoder, args.src)
    check_against_model(converted, model.state_dict(), args.src, args.config)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(dict(meta=dict(converted_from=osp.basename(args.src), config=args.config,
                              converter=converter), state_dict=converted), args.out)
    print(f'{args.out}: {len(converted)} tensors from {args.src} ({len(state)} keys).')
