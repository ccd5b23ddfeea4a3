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
import re

import pytest
from config_names import is_short_name
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


def work_dir(path: str) -> str:
    """Where tools/train.py writes a run of ``path`` without ``--work-dir``."""
    return osp.normpath(load(path).get('work_dir') or
                        osp.join('work_dirs', osp.splitext(osp.basename(path))[0]))


def test_work_dirs_are_unique():
    """Two configs sharing a work dir overwrite each other's checkpoints and logs: a config
    whose file name is taken (the short names, e.g. configs/kdam/swinT_nyud.py and
    configs/mtl/swinT_nyud.py) sets a work dir of its own."""
    dirs = collections.Counter(work_dir(path) for path in RUNNABLE)
    assert not [name for name, count in dirs.items() if count > 1]


SHORT_NAMES = [path for path in RUNNABLE if is_short_name(path)]


def test_design_card_command_config_exists():
    assert 'configs/kdam/swinT_nyud.py' in SHORT_NAMES
    assert 'configs/mtl/swinL_nyud.py' in SHORT_NAMES
    assert 'configs/mtl/swinT_nyud.py' in SHORT_NAMES


@pytest.mark.parametrize('path', SHORT_NAMES)
def test_short_name_is_its_long_named_config(path):
    """A short name runs its long-named config; only the work dir differs, and a KDAM
    student's teacher is the short-named teacher (trained in that one's work dir)."""
    cfg = load(path).to_dict()
    base = re.search(r"^_base_ = \['(.+)'\]$", open(osp.join(REPO, path)).read(), re.M)
    assert base, f'{path}: a short name has one base, its long-named config'
    base = osp.normpath(osp.join(osp.dirname(path), base.group(1)))
    long = load(base).to_dict()
    assert not is_short_name(base)
    assert work_dir(path) == osp.join('work_dirs', osp.splitext(path)[0][len('configs/'):])
    del cfg['work_dir']
    if cfg['model']['type'] == 'KDAMDistiller':
        teacher = cfg['model'].pop('teacher_cfg')
        assert is_short_name(teacher) and load(teacher).model == load(
            long['model'].pop('teacher_cfg')).model
        assert cfg['model'].pop('teacher_ckpt') == work_dir(teacher)
        long['model'].pop('teacher_ckpt')
    assert cfg == long
