"""tools/misc/make_synthetic_dataset.py: the command line writes what the function does."""
import filecmp
import os

import pytest

from mmmtl.datasets.synthetic import make_synthetic_dataset

from .utils import PYTHON, run_tool


def tree(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root)
                  for folder, _, names in os.walk(root) for name in names)


@pytest.mark.parametrize('layout', ['nyud', 'pascal'])
def test_command_line_writes_the_function_output(layout, tmp_path):
    out = tmp_path / 'cli'
    output = run_tool([PYTHON, 'tools/misc/make_synthetic_dataset.py', '--layout', layout,
                       '--out', str(out), '--num-train', '3', '--num-val', '2', '--size', '32',
                       '48', '--seed', '5'])
    assert f'wrote 3 train + 2 val easy {layout} samples of 32x48 to {out}' in output
    expected = make_synthetic_dataset(layout, tmp_path / 'function', num_train=3, num_val=2,
                                      size=(32, 48), seed=5)
    files = tree(out)
    assert files == tree(expected)
    images = [f for f in files if f.startswith(('images', 'JPEGImages'))]
    assert sum('train_' in f for f in images) == 3 and sum('val_' in f for f in images) == 2
    _, mismatch, errors = filecmp.cmpfiles(out, expected, files, shallow=False)
    assert not mismatch and not errors  # byte-identical: size, seed and counts were passed
    other_seed = make_synthetic_dataset(layout, tmp_path / 'seed6', num_train=3, num_val=2,
                                        size=(32, 48), seed=6)
    assert filecmp.cmpfiles(out, other_seed, files, shallow=False)[1]


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(AssertionError, match="invalid choice: 'cityscapes'"):
        run_tool([PYTHON, 'tools/misc/make_synthetic_dataset.py', '--layout', 'cityscapes',
                  '--out', str(tmp_path)])
    with pytest.raises(AssertionError, match='too small'):
        run_tool([PYTHON, 'tools/misc/make_synthetic_dataset.py', '--layout', 'nyud',
                  '--out', str(tmp_path), '--size', '8', '8'])
