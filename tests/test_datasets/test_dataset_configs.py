"""The dataset configs build and their pipelines produce aligned samples."""
from argparse import Namespace
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmmtl.registry import DATASETS

CONFIG_DIR = Path(__file__).parents[2] / 'configs' / '_base_' / 'datasets'


@pytest.mark.parametrize('name, real_root, root_fixture', [
    ('synthetic_nyud', 'data/synthetic_nyud', 'synthetic_nyud_root'),
    ('nyud_mtl', 'data/nyud', 'synthetic_nyud_mt_root'),
    ('synthetic_pascal', 'data/synthetic_pascal', 'synthetic_pascal_root'),
    ('pascal_context_mtl', 'data/pascal_context', 'synthetic_pascal_root'),
])
def test_config_pipelines(request, name, real_root, root_fixture):
    cfg = Config.fromfile(CONFIG_DIR / f'{name}.py')
    assert cfg.data_root == real_root
    assert cfg.train_dataloader.sampler.type == 'InfiniteSampler'
    assert cfg.val_dataloader.batch_size == 1
    assert cfg.val_evaluator == dict(type='MultiTaskMetric', tasks=cfg.tasks)
    root = str(request.getfixturevalue(root_fixture))
    train_cfg = cfg.train_dataloader.dataset
    train_cfg.data_root = root
    # Real-data crops are larger than the 48x64 test images: they are padded.
    crop_h, crop_w = cfg.crop_size
    np.random.seed(0)
    train = DATASETS.build(train_cfg)
    samples = [train[i] for i in range(2)]
    for sample in samples:
        assert sample['inputs'].shape == (3, crop_h, crop_w)
        data_sample = sample['data_samples']
        for task in cfg.tasks:
            spec_key = dict(semseg='gt_sem_seg', human_parts='gt_human_parts',
                            saliency='gt_saliency', depth='gt_depth', normal='gt_normal',
                            edge='gt_edge')[task]
            gt = getattr(data_sample, spec_key).data
            assert gt.shape[-2:] == (crop_h, crop_w), task
    batch = pseudo_collate(samples)
    assert len(batch['data_samples']) == 2
    val_cfg = cfg.val_dataloader.dataset
    val_cfg.data_root = root
    val = DATASETS.build(val_cfg)
    sample = val[0]
    assert sample['inputs'].shape == (3, 48, 64)
    assert sample['data_samples'].metainfo['ori_shape'] == (48, 64)
    assert sample['data_samples'].metainfo['flip'] is False


def test_training_sample_keeps_geometry(synthetic_nyud_root):
    """Through the full train pipeline, normals keep their (8-bit quantised, unit)
    length and depth stays positive."""
    cfg = Config.fromfile(CONFIG_DIR / 'synthetic_nyud.py')
    cfg.train_dataloader.dataset.data_root = str(synthetic_nyud_root)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    np.random.seed(1)
    for index in range(len(dataset)):
        sample = dataset[index]['data_samples']
        normal = sample.gt_normal.data
        norm = normal.norm(dim=0)
        assert torch.allclose(norm[norm > 0], torch.ones(1), atol=0.01)
        assert (sample.gt_depth.data >= 0).all()
        # Padding is invalid for every task at the same pixels.
        padded = sample.gt_sem_seg.data[0] == 255
        assert ((sample.gt_depth.data[0] == 0) | ~padded).all()
        assert (sample.gt_edge.data[0][norm == 0] == 255).all()


def test_browse_dataset_writes_pictures(synthetic_pascal_root, tmp_path):
    import importlib.util
    tool = Path(__file__).parents[2] / 'tools' / 'analysis_tools' / 'browse_dataset.py'
    spec = importlib.util.spec_from_file_location('browse_dataset', tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / 'browse'
    module.main(Namespace(
        config=str(CONFIG_DIR / 'synthetic_pascal.py'), output_dir=str(out), phase='val',
        max_samples=3, cfg_options={'val_dataloader.dataset.data_root':
                                    str(synthetic_pascal_root)}))
    pictures = sorted(out.glob('*.png'))
    assert [p.name for p in pictures] == ['val_00000.png', 'val_00001.png',
                                          'val_00002.png']
    import cv2
    picture = cv2.imread(str(pictures[0]))
    # image + 5 task panels side by side, each with a title bar
    assert picture.shape == (48 + 14, 64 * 6, 3)
