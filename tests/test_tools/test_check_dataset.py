"""tools/misc/check_dataset.py finds what a long run would trip over."""
import shutil

import numpy as np
import pytest
from tool_loader import load_tool


def _tool():
    return load_tool('tools/misc/check_dataset.py')


@pytest.fixture()
def nyud_copy(synthetic_nyud_root, tmp_path):
    root = tmp_path / 'nyud'
    shutil.copytree(synthetic_nyud_root, root)
    return root


def _first_val_id(root) -> str:
    return (root / 'gt_sets' / 'val.txt').read_text().split()[0]


def test_clean_dataset_passes(synthetic_nyud_root, synthetic_pascal_root, capsys):
    tool = _tool()
    assert tool.main([str(synthetic_nyud_root), '--layout', 'nyud']) == 0
    assert tool.main([str(synthetic_pascal_root), '--layout', 'pascal']) == 0
    out = capsys.readouterr().out
    assert 'val: 4 samples, 0 problems' in out and 'human_parts' in out


def test_missing_file_is_named(nyud_copy, capsys):
    sample = _first_val_id(nyud_copy)
    (nyud_copy / 'depth' / f'{sample}.npy').unlink()
    assert _tool().main([str(nyud_copy), '--layout', 'nyud', '--splits', 'val']) == 1
    out = capsys.readouterr().out
    assert f'{sample}: missing depth ' in out and f'{sample}.npy' in out
    assert 'FAILED' in out


def test_nan_depth_and_bad_label_are_named(nyud_copy, capsys):
    import cv2
    sample = _first_val_id(nyud_copy)
    depth_path = nyud_copy / 'depth' / f'{sample}.npy'
    depth = np.load(depth_path)
    depth[0, 0] = np.nan
    np.save(depth_path, depth)
    label_path = nyud_copy / 'segmentation' / f'{sample}.png'
    label = cv2.imread(str(label_path), cv2.IMREAD_UNCHANGED)
    label[0, 0] = 77  # raw 77 -> class 76 of 40
    cv2.imwrite(str(label_path), label)
    assert _tool().main([str(nyud_copy), '--layout', 'nyud', '--splits', 'val']) == 1
    out = capsys.readouterr().out
    problems = [line for line in out.splitlines() if line.strip().startswith('!')]
    assert any(sample in line and 'depth' in line for line in problems), out
    assert 'val: 4 samples, 1 problems' in out or 'val: 4 samples, 2 problems' in out


def test_unknown_split_fails_cleanly(synthetic_nyud_root, capsys):
    assert _tool().main([str(synthetic_nyud_root), '--layout', 'nyud', '--splits',
                         'test']) == 1
    assert 'cannot read the split' in capsys.readouterr().out


def test_loader_output_out_of_the_plausible_is_bad_with_counts(nyud_copy, capsys):
    """An all-zero normals PNG decodes to (-1, -1, -1) (|n| = 1.73) and depth 1e30 is not
    a depth: both used to pass. Each is reported with its pixel count."""
    import cv2
    sample = _first_val_id(nyud_copy)
    normal_path = nyud_copy / 'normals' / f'{sample}.png'
    shape = cv2.imread(str(normal_path)).shape
    cv2.imwrite(str(normal_path), np.zeros(shape, np.uint8))
    depth_path = nyud_copy / 'depth' / f'{sample}.npy'
    depth = np.load(depth_path)
    depth[:2] = 1e30
    np.save(depth_path, depth)
    assert _tool().main([str(nyud_copy), '--layout', 'nyud', '--splits', 'val']) == 1
    out = capsys.readouterr().out
    pixels = shape[0] * shape[1]
    assert (f'{sample}: normal: {pixels} of {pixels} px with |n| in [1.73, 1.73], neither '
            'unit vectors') in out, out
    assert (f'{sample}: depth: {2 * shape[1]} of {pixels} px with depth in [1e+30, 1e+30]'
            in out), out
    assert f'{pixels} bad px in 1 samples' in out
    assert 'val: 4 samples, 2 problems' in out and 'FAILED' in out
    # the plausible depth range is configurable
    assert _tool().main([str(nyud_copy), '--layout', 'nyud', '--splits', 'val',
                         '--depth-range', '0', '1e31']) == 1
    assert 'val: 4 samples, 1 problems' in capsys.readouterr().out


def test_large_split_shows_a_progress_bar(synthetic_nyud_root, capsys):
    assert _tool().main([str(synthetic_nyud_root), '--layout', 'nyud', '--splits', 'val',
                         '--progress-above', '2']) == 0
    captured = capsys.readouterr()
    assert '4/4' in captured.err and 'val: 4 samples, 0 problems' in captured.out
    _tool().main([str(synthetic_nyud_root), '--layout', 'nyud', '--splits', 'val'])
    assert '4/4' not in capsys.readouterr().err
