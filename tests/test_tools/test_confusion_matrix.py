"""tools/analysis_tools/confusion_matrix.py: the counts of exported label
predictions against the test set's ground truth, and one picture per label task."""
import cv2
import numpy as np
import pytest
from mmengine.config import Config
from tool_loader import load_tool

from mmmtl.registry import DATASETS

from .utils import REPO_ROOT

CONFIG = 'configs/synthetic/mtl_student_synthetic_nyud.py'
TOOL = 'tools/analysis_tools/confusion_matrix.py'


@pytest.fixture
def exported(synthetic_nyud_root, tmp_path):
    """The test set's ground truth, and predictions written as tools/test.py --out does:
    right everywhere, except that in the first image the pixels of its first class
    are called the next class."""
    cfg = Config.fromfile(f'{REPO_ROOT}/{CONFIG}')
    cfg.test_dataloader.dataset.data_root = str(synthetic_nyud_root)
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    expected = np.zeros((40, 40), dtype=np.int64)
    (tmp_path / 'preds' / 'semseg').mkdir(parents=True)
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        gt = sample.gt_sem_seg.data[0].numpy()
        pred = np.where(gt == 255, 0, gt).astype(np.uint8)
        if index == 0:
            wrong = int(gt[gt != 255].min())
            pred[gt == wrong] = wrong + 1
        name = sample.img_path.rsplit('/', 1)[1].rsplit('.', 1)[0]
        cv2.imwrite(str(tmp_path / 'preds' / 'semseg' / f'{name}.png'), pred)
        for g, p in zip(gt[gt != 255], pred[gt != 255]):  # pixel by pixel
            expected[g, p] += 1
    assert expected[wrong, wrong + 1] > 0 and np.trace(expected) > 0
    return tmp_path / 'preds', expected, str(synthetic_nyud_root)


def test_counts_and_picture(exported, tmp_path, capsys):
    preds, expected, data_root = exported
    tool = load_tool(TOOL)
    out = tmp_path / 'confusion'
    tool.main([CONFIG, str(preds), str(out), '--cfg-options',
               f'test_dataloader.dataset.data_root={data_root}'])
    np.testing.assert_array_equal(np.load(out / 'confusion_matrix_semseg.npy'), expected)
    picture = cv2.imread(str(out / 'confusion_matrix_semseg.png'))
    assert picture is not None and min(picture.shape[:2]) >= 600  # 40 classes readable
    assert 'semseg: 40 classes' in capsys.readouterr().out


def test_only_label_tasks_and_missing_predictions(exported, tmp_path):
    preds, _, data_root = exported
    tool = load_tool(TOOL)
    options = ['--cfg-options', f'test_dataloader.dataset.data_root={data_root}']
    with pytest.raises(ValueError, match="--tasks 'depth': not a label task"):
        tool.main([CONFIG, str(preds), str(tmp_path / 'c'), '--tasks', 'depth', *options])
    with pytest.raises(FileNotFoundError, match='tools/test.py CONFIG CHECKPOINT --out'):
        tool.main([CONFIG, str(tmp_path / 'nothing'), str(tmp_path / 'c'), *options])
