"""A pretrained backbone that cannot be downloaded (offline) names the file and points
to docs/get_started.md instead of dying with a raw URLError (issue 28)."""
import pytest

from mmmtl.registry import MODELS

UNREACHABLE = 'http://127.0.0.1:9/resnet18_v1c.pth'  # the discard port: refused at once


def test_offline_download_points_to_get_started(monkeypatch, tmp_path):
    monkeypatch.setenv('TORCH_HOME', str(tmp_path))  # not the user's hub cache
    model = MODELS.build(dict(
        type='MultiTaskEncoderDecoder',
        data_preprocessor=dict(type='MultiTaskDataPreProcessor'),
        backbone=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                      num_stages=1, strides=(1, ), dilations=(1, ), out_indices=(0, ),
                      init_cfg=dict(type='Pretrained', checkpoint=UNREACHABLE)),
        neck=dict(type='MultiScaleConcatNeck', in_channels=[8]),
        task_heads=dict(depth=dict(type='ATRCBaselineHead', in_channels=8, channels=8,
                                   out_channels=1, loss_decode=dict(type='DepthL1Loss')))))
    with pytest.raises(RuntimeError) as error:
        model.init_weights()
    message = str(error.value)
    assert UNREACHABLE in message and 'docs/get_started.md' in message
    assert 'init_cfg.checkpoint' in message
    assert type(error.value.__cause__).__name__ == 'URLError'
