"""Shared pytest fixtures: registered modules and tiny synthetic datasets.

The synthetic datasets are written once per test session in the exact
layouts of the real data (see ``mmmtl/datasets/synthetic.py``), so every
test reads them through the real loaders.
"""
from pathlib import Path

import pytest

SYNTHETIC_SIZE = (48, 64)  # (H, W)
SYNTHETIC_NUM_TRAIN = 6
SYNTHETIC_NUM_VAL = 4


@pytest.fixture(scope='session', autouse=True)
def _register_all_modules() -> None:
    """Register every mmmtl module and set the default scope to ``mmmtl``."""
    from mmmtl.utils import register_all_modules
    register_all_modules()


@pytest.fixture(autouse=True)
def _mmmtl_default_scope() -> None:
    """Every test starts in scope ``mmmtl`` (a test's Runner may switch it)."""
    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'mmmtl':
        from mmmtl.utils import register_all_modules
        register_all_modules()


def _make_root(tmp_path_factory: pytest.TempPathFactory, layout: str,
               seed: int) -> Path:
    from mmmtl.datasets.synthetic import make_synthetic_dataset
    root = tmp_path_factory.mktemp(f'synthetic_{layout}')
    make_synthetic_dataset(
        layout,
        root,
        num_train=SYNTHETIC_NUM_TRAIN,
        num_val=SYNTHETIC_NUM_VAL,
        size=SYNTHETIC_SIZE,
        seed=seed)
    return root


@pytest.fixture(scope='session')
def synthetic_nyud_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny NYUD-v2 in the ATRC/InvPT ``NYUDv2`` layout (png images/normals)."""
    return _make_root(tmp_path_factory, 'nyud', seed=0)


@pytest.fixture(scope='session')
def synthetic_nyud_mt_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny NYUD-v2 in the MTI-Net ``NYUD_MT`` layout (jpg images, npy maps)."""
    return _make_root(tmp_path_factory, 'nyud_mt', seed=1)


@pytest.fixture(scope='session')
def synthetic_pascal_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Tiny PASCAL-Context in the ATRC ``PASCAL_MT`` layout."""
    return _make_root(tmp_path_factory, 'pascal', seed=2)
