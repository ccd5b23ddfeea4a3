"""Every config under ``configs/`` loads, and the config a run dumps tells the truth.

A run dumps its config into its work dir and people read that file to know
what ran. So, for every config:

- it loads (and, for one config of each kind, its dump loads back to the
  same config);
- a top-level helper variable (anything the runner does not read, e.g.
  ``task_heads`` spliced in from a base file) is not a stale copy: if its
  name is a key inside ``model``, every such key holds the same value, and a
  model part (a ``type``-d dict, or a dict / list of them) appears verbatim
  where the runner uses it;
- every value that states a task head's ``channels`` (the head's own
  config, ``shared_head_cfg``, the ``task_heads`` helper) equals the channels
  of the head the segmentor builds, and no head key is also set by
  ``shared_head_cfg`` (one would silently override the other).
"""
import collections
import copy
import functools
import glob
import inspect
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from mmmtl.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
ALL_CONFIGS = sorted(
    osp.relpath(path, REPO)
    for path in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True))
RUNNABLE = [path for path in ALL_CONFIGS if not path.startswith('configs/_base_/')]
# Keys the runner (or the tools) read; every other top-level key is a helper.
RUNNER_KEYS = (set(inspect.signature(Runner.__init__).parameters) - {'self', 'cfg'}) | {
    'custom_imports', 'tta_model', 'tta_pipeline'}
# A backbone that is cheap to build: the heads do not depend on it (their
# in_channels come from the neck), so the heads built are the config's.
TINY_BACKBONE = dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                     num_stages=1, strides=(1, ), dilations=(1, ), out_indices=(0, ))


# The dump round trip formats with yapf (seconds per config): one config per kind.
DUMPED = ('configs/mtl/mtl_hrnet18_40k_nyud-425x560.py',
          'configs/mtl/single_task/st-saliency_swinT_40k_pascal-512x512.py',
          'configs/kdam/kdam_swinB-swinT_40k_nyud-425x560.py',
          'configs/kd_baselines/dist_swinL-swinT_40k_nyud-425x560.py',
          'configs/kdam/ablations/plainkd-tau0p5_swinL-swinT_40k_nyud-425x560.py',
          'configs/synthetic/mtl_teacher_synthetic_pascal.py')


@functools.lru_cache(maxsize=None)
def load(path: str) -> Config:
    return Config.fromfile(osp.join(REPO, path))


def is_typed(value) -> bool:
    """A config of something built from a registry, or a container of them."""
    if isinstance(value, dict):
        return 'type' in value or (bool(value) and all(map(is_typed, value.values())))
    if isinstance(value, (list, tuple)):
        return bool(value) and all(map(is_typed, value))
    return False


def occurrences(tree, key: str) -> list:
    """Every value stored under ``key`` anywhere in a nested config."""
    found = []
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key:
                found.append(v)
            found += occurrences(v, key)
    elif isinstance(tree, (list, tuple)):
        for item in tree:
            found += occurrences(item, key)
    return found


def contains(tree, value) -> bool:
    """``value`` appears verbatim somewhere in ``tree``."""
    if tree == value:
        return True
    if isinstance(tree, dict):
        return any(contains(v, value) for v in tree.values())
    if isinstance(tree, (list, tuple)):
        return any(contains(v, value) for v in tree)
    return False


def segmentors(cfg: Config) -> list:
    """The segmentor configs a config builds (a distiller's student)."""
    model = cfg.model.to_dict() if hasattr(cfg.model, 'to_dict') else dict(cfg.model)
    if model['type'] == 'KDAMDistiller':  # its teacher_cfg is a config of its own
        return [model['student']]
    return [model]


def test_every_config_is_found():
    assert len(RUNNABLE) >= 80
    for name in DUMPED + ('configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py',
                          'configs/synthetic/kdam_student_synthetic_pascal.py'):
        assert name in RUNNABLE


@pytest.mark.parametrize('path', ALL_CONFIGS)
def test_config_loads(path):
    assert load(path).to_dict()


@pytest.mark.parametrize('path', DUMPED)
def test_dump_is_the_config(path):
    cfg = load(path)
    dumped = Config.fromstring(cfg.pretty_text, file_format='.py')
    assert dumped.to_dict() == cfg.to_dict()


@pytest.mark.parametrize('path', RUNNABLE)
def test_no_stale_top_level_copy(path):
    cfg = load(path).to_dict()
    model = cfg['model']
    used = {key: value for key, value in cfg.items() if key in RUNNER_KEYS}
    for key, value in cfg.items():
        if key in RUNNER_KEYS and key != 'data_preprocessor':
            continue
        stated = occurrences(model, key)
        stale = [other for other in stated if other != value]
        assert not stale, (f'{path}: top-level {key}={value!r} but the model has '
                           f'{key}={stale[0]!r}')
        if is_typed(value):
            assert contains(used, value), (
                f'{path}: top-level {key} is not what the runner builds: {value!r} appears '
                'nowhere in model / dataloaders / optim_wrapper / ...')


@pytest.mark.parametrize('path', RUNNABLE)
def test_stated_head_channels_are_built(path):
    cfg = load(path)
    for segmentor in segmentors(cfg):
        if not segmentor.get('task_heads'):  # absent or None: a decoder, no heads
            continue
        shared = segmentor.get('shared_head_cfg') or {}
        stated = {}
        for task, head in segmentor['task_heads'].items():
            both = sorted(set(head) & set(shared))
            assert not both, (f'{path}: task_heads.{task} and shared_head_cfg both set '
                              f'{both}; state each value once')
            stated[task] = [head[k] for k in ('channels', ) if k in head] + [
                shared[k] for k in ('channels', ) if k in shared]
            helper = cfg.get('task_heads', {}).get(task, {})
            if 'channels' in helper:
                stated[task].append(helper['channels'])
        build_cfg = copy.deepcopy(segmentor)
        build_cfg['backbone'] = TINY_BACKBONE
        built = MODELS.build(build_cfg)
        heads = built.decoder.task_heads
        assert list(heads) == list(segmentor['task_heads'])
        for task, values in stated.items():
            assert values, f'{path}: the {task} head states no channels'
            assert all(value == heads[task].channels for value in values), (
                f'{path}: the {task} head states channels {values}, the model builds '
                f'{heads[task].channels}')


def test_config_file_names_are_unique():
    """Work dirs default to the config's file name: two configs of one name overwrite each
    other's checkpoints and logs."""
    names = collections.Counter(osp.basename(path) for path in RUNNABLE)
    assert not [name for name, count in names.items() if count > 1]
