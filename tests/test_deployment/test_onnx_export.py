"""ONNX export: onnxruntime reproduces PyTorch for every synthetic config and each family."""
import glob
import os.path as osp

import numpy as np
import onnx
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from mmengine.dataset import pseudo_collate

from mmmtl.apis import InferencePipeline, inference_model, init_model
from mmmtl.deployment import ONNXExportError, export_onnx, onnx_session, run_onnx
from mmmtl.models.layers import ChannelDeformConv2d, WindowOffsetPredictor
from mmmtl.tasks import get_task_spec

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Configs whose export must stop with a clear error, and the op it names: timm's ViT
# resamples its position embedding with antialiased bicubic interpolation when traced.
NOT_EXPORTABLE = {
    'configs/synthetic/invpt_tiny_released_synthetic_nyud.py': 'aten::_upsample_bicubic2d_aa'
}
SYNTHETIC_CONFIGS = sorted(
    osp.relpath(path, REPO) for path in glob.glob(osp.join(REPO, 'configs/synthetic/*.py'))
    if osp.relpath(path, REPO) not in NOT_EXPORTABLE)
# One real model of each backbone family (the synthetic configs are Swin too), and
# DeMT at its real width (256 channels through the deformable mixers).
FAMILY_CONFIGS = ['configs/mtl/mtl_hrnet18_40k_nyud-425x560.py',
                  'configs/mtl/mtl_swinT_40k_pascal-512x512.py',
                  'configs/mtl/demt_hrnet18_40k_nyud-425x560.py']
SHAPE = (64, 96)
BATCH = 2


def seeded_model(config: str):
    """An untrained model with non-trivial BN statistics (so that BN matters) and
    DeMT offsets that depend on the input (their predictor starts input-independent)."""
    torch.manual_seed(0)
    model = init_model(osp.join(REPO, config))
    with torch.no_grad():
        for name, buf in model.named_buffers():
            if name.endswith('running_var'):
                buf.uniform_(0.5, 2.0)
            elif name.endswith('running_mean'):
                buf.normal_(0, 0.1)
        for module in model.modules():
            if isinstance(module, WindowOffsetPredictor):
                module.displacement.weight.normal_(0, 0.05)
    return model


def test_synthetic_configs_are_all_covered():
    assert len(SYNTHETIC_CONFIGS) >= 6
    assert 'configs/synthetic/demt_student_synthetic_nyud.py' in SYNTHETIC_CONFIGS


@pytest.mark.parametrize('config,op', sorted(NOT_EXPORTABLE.items()))
def test_unexportable_op_is_a_clear_error(config, op, tmp_path):
    out = tmp_path / 'model.onnx'
    with pytest.raises(ONNXExportError, match=f"operator '{op}' has no ONNX conversion; it is "
                       r'used in: model\.backbone'):
        export_onnx(seeded_model(config), str(out), SHAPE, batch_size=BATCH)
    assert not out.exists()


@pytest.mark.parametrize('config', SYNTHETIC_CONFIGS + FAMILY_CONFIGS)
def test_onnxruntime_equals_pytorch(config, tmp_path):
    model = seeded_model(config)
    onnx_file = str(tmp_path / 'model.onnx')
    outputs = export_onnx(model, onnx_file, SHAPE, batch_size=BATCH)
    assert outputs == model.tasks

    graph = onnx.load(onnx_file).graph
    assert [i.name for i in graph.input] == ['input']
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == [BATCH, 3, *SHAPE]
    assert [o.name for o in graph.output] == model.tasks

    inputs = torch.randn(BATCH, 3, *SHAPE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        reference = model.forward_tasks(inputs)
    got = run_onnx(onnx_session(onnx_file), inputs)
    for task in model.tasks:
        ref = reference[task].numpy()
        assert got[task].shape == ref.shape == (BATCH, ref.shape[1], *SHAPE)
        np.testing.assert_allclose(got[task], ref, rtol=1e-3, atol=1e-4, err_msg=task)
        if get_task_spec(task).kind != 'label':
            continue
        # Identical label maps, except where PyTorch's own top-2 margin is below the
        # float32 noise between the two runtimes (a tie either could break).
        top2 = np.sort(ref, axis=1)[:, -2:]
        decided = (top2[:, 1] - top2[:, 0]) > 2 * np.abs(got[task] - ref).max()
        assert decided.mean() > 0.999, task
        np.testing.assert_array_equal(got[task].argmax(1)[decided], ref.argmax(1)[decided])


class ShapeGeneric(nn.Module):
    """Strided conv, then a resize back to the input size taken from the tensor."""
    tasks = ['semseg', 'depth']

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.heads = nn.ModuleDict(dict(semseg=nn.Conv2d(8, 5, 1), depth=nn.Conv2d(8, 1, 1)))

    def forward_tasks(self, inputs):
        feats = torch.relu(self.backbone(inputs))
        return {
            task: F.interpolate(head(feats), size=inputs.shape[2:], mode='bilinear',
                                align_corners=False)
            for task, head in self.heads.items()
        }


def test_dynamic_axes_work_for_a_shape_generic_model(tmp_path):
    torch.manual_seed(0)
    model = ShapeGeneric().eval()
    onnx_file = str(tmp_path / 'dynamic.onnx')
    export_onnx(model, onnx_file, (32, 32), dynamic=True)
    session = onnx_session(onnx_file)
    for shape in ((1, 32, 32), (3, 40, 56)):
        inputs = torch.randn(shape[0], 3, *shape[1:])
        with torch.no_grad():
            reference = model.forward_tasks(inputs)
        got = run_onnx(session, inputs)
        for task in model.tasks:
            np.testing.assert_allclose(got[task], reference[task].numpy(), rtol=1e-3,
                                       atol=1e-5)


def test_dynamic_axes_refused_when_tracing_freezes_shapes(tmp_path):
    """Swin pads to its windows with Python ints: a dynamic graph would be wrong."""
    model = seeded_model('configs/synthetic/mtl_student_synthetic_nyud.py')
    onnx_file = tmp_path / 'swin.onnx'
    with pytest.raises(ONNXExportError, match=r'dynamic axes is wrong at input \(2, 3, 96, 160\)'
                       r'.*export one file per input size'):
        export_onnx(model, str(onnx_file), SHAPE, dynamic=True)
    assert not onnx_file.exists()  # no wrong file is left behind


class Spectral(nn.Module):
    """A head post-processing step with an op the ONNX exporter cannot convert."""

    def __init__(self, head: nn.Module) -> None:
        super().__init__()
        self.head = head

    def forward(self, feats):
        return torch.fft.fft2(self.head(feats)).real


def test_unsupported_op_names_the_op_and_the_module(tmp_path):
    model = seeded_model('configs/synthetic/mtl_student_synthetic_nyud.py')
    model.task_heads['edge'] = Spectral(model.task_heads['edge'])
    with pytest.raises(ONNXExportError) as info:
        export_onnx(model, str(tmp_path / 'bad.onnx'), SHAPE)
    message = str(info.value)
    assert "operator 'aten::fft_fft2'" in message
    assert 'model.decoder.task_heads.edge (Spectral)' in message
    assert 'test_onnx_export.py' in message  # the source line of the call


def test_export_rejects_a_model_without_forward_tasks(tmp_path):
    with pytest.raises(TypeError, match='Conv2d has none'):
        export_onnx(nn.Conv2d(3, 3, 1), str(tmp_path / 'x.onnx'), SHAPE)


def test_onnx_logits_decode_like_inference_model(synthetic_nyud_root, tmp_path):
    """The documented recipe: preprocess, run the graph, decode with postprocess_result."""
    model = seeded_model('configs/synthetic/kdam_student_synthetic_nyud.py')
    image = str(synthetic_nyud_root / 'images' / 'val_00000.png')  # 48 x 64, padded to 64 x 64
    onnx_file = str(tmp_path / 'student.onnx')
    export_onnx(model, onnx_file, (64, 64))
    data = model.data_preprocessor(pseudo_collate([InferencePipeline(model.cfg,
                                                                      model.tasks)(image)]))
    assert tuple(data['inputs'].shape) == (1, 3, 64, 64)
    outputs = run_onnx(onnx_session(onnx_file), data['inputs'])
    decoded = model.postprocess_result({t: torch.from_numpy(v) for t, v in outputs.items()},
                                       data['data_samples'])[0]
    expected = inference_model(model, image)
    np.testing.assert_array_equal(decoded.pred_sem_seg.data.numpy(),
                                  expected.pred_sem_seg.data.numpy())
    for key in ('pred_depth', 'pred_normal', 'pred_edge'):
        np.testing.assert_allclose(decoded.get(key).data.numpy(), expected.get(key).data.numpy(),
                                   rtol=1e-3, atol=1e-4, err_msg=key)


class DeformHead(nn.Module):
    """A depth head with a 3x3 torchvision deformable convolution (no ONNX symbolic)."""
    tasks = ['depth']

    def __init__(self) -> None:
        super().__init__()
        self.offsets = nn.Conv2d(3, 18, 3, padding=1)
        self.deform = torchvision.ops.DeformConv2d(3, 1, 3, padding=1)

    def forward_tasks(self, inputs):
        return {'depth': self.deform(inputs, self.offsets(inputs))}


def test_custom_namespace_op_export_is_refused_naming_the_op(tmp_path):
    """torchvision::deform_conv2d outside DeMT's 1x1 form: a clear error, no file."""
    out = tmp_path / 'deform.onnx'
    with pytest.raises(ONNXExportError) as info:
        export_onnx(DeformHead().eval(), str(out), (8, 12))
    message = str(info.value)
    assert "operator 'torchvision::deform_conv2d' has no ONNX conversion" in message
    assert 'model.deform (DeformConv2d)' in message
    assert not out.exists()


class DeMTLikeHead(nn.Module):
    """A shape-generic model around DeMT's per-channel deformable convolution."""
    tasks = ['semseg']

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, padding=1)
        self.deform = ChannelDeformConv2d(6, 4)
        with torch.no_grad():
            self.deform.offset_predictor.displacement.weight.normal_(0, 0.5)

    def forward_tasks(self, inputs):
        return {'semseg': self.deform(self.stem(inputs))}


def test_channel_deform_conv_exports_with_dynamic_axes(tmp_path):
    """The GridSample form takes its grid from the input's shape: one graph, any size."""
    torch.manual_seed(0)
    model = DeMTLikeHead().eval()
    onnx_file = str(tmp_path / 'deform.onnx')
    export_onnx(model, onnx_file, (8, 12), dynamic=True)
    ops = {node.op_type for node in onnx.load(onnx_file).graph.node}
    assert 'GridSample' in ops
    session = onnx_session(onnx_file)
    for shape in ((1, 8, 12), (3, 17, 5), (1, 1, 1)):
        inputs = torch.randn(shape[0], 3, *shape[1:])
        with torch.no_grad():
            reference = model.forward_tasks(inputs)['semseg'].numpy()
        got = run_onnx(session, inputs)['semseg']
        np.testing.assert_allclose(got, reference, rtol=1e-3, atol=1e-5, err_msg=str(shape))


def test_opset_below_a_modules_minimum_is_refused(tmp_path):
    out = tmp_path / 'demt.onnx'
    with pytest.raises(ONNXExportError, match=r'opset 15 is not possible: model\.deform '
                       r'\(ChannelDeformConv2d\) needs opset >= 16\. Use opset 16'):
        export_onnx(DeMTLikeHead().eval(), str(out), (8, 12), opset=15)
    assert not out.exists()
