"""ONNX export of any multi-task model with ``forward_tasks(inputs) -> {task: logits}``.

The graph has one input ``input`` (N, 3, H, W) float32, normalised as the
model's data preprocessor does (mean / std, channel order, padding to its
``size_divisor``), and one output per task, named after the task, holding its
logits (N, C_task, H, W) at the input size. Decoding (argmax, sigmoid,
normalisation) and resizing to the original image are left to the caller,
as in ``MultiTaskEncoderDecoder.postprocess_result``.

The TorchScript-based exporter (``dynamo=False``) is used: it needs no
package beyond ``onnx`` and handles Swin's window attention and mmseg's
resize.
"""
import os
import re
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

INPUT_NAME = 'input'
DEFAULT_OPSET = 17
# onnxruntime logits must match PyTorch's within ATOL + RTOL * max |logits|.
RTOL, ATOL = 1e-3, 1e-4


class ONNXExportError(RuntimeError):
    """The model cannot be exported; the message names the op and the module."""


class TaskLogitsModule(nn.Module):
    """``forward(input)`` -> tuple of every task's logits, in ``model.tasks`` order."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        for attr in ('tasks', 'forward_tasks'):
            if not hasattr(model, attr):
                raise TypeError(f'ONNX export needs a multi-task model with `{attr}`; '
                                f'{type(model).__name__} has none.')
        self.model = model
        self.tasks = list(model.tasks)

    def forward(self, input: Tensor) -> Tuple[Tensor, ...]:  # noqa: A002 (the ONNX name)
        logits = self.model.forward_tasks(input)
        missing = [task for task in self.tasks if task not in logits]
        if missing:
            raise KeyError(f'forward_tasks of {type(self.model).__name__} returned no logits '
                           f'for tasks {missing} (got {list(logits)}).')
        return tuple(logits[task] for task in self.tasks)


def _op_users(module: nn.Module, example: Tensor, op: str) -> List[str]:
    """``'<module path> (<class>) at <source line>'`` of every traced call of ``op``."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        traced = torch.jit.trace(module, (example, ), check_trace=False)
    users = []
    for node in traced.inlined_graph.nodes():
        if node.kind() != op:
            continue
        scope = node.scopeName().split('/')[-1]  # '__module.model/__module.model.head'
        path = scope[len('__module.'):] if scope.startswith('__module.') else ''
        try:
            owner = type(module.get_submodule(path)).__name__ if path else type(module).__name__
        except AttributeError:
            owner = '?'
        source = node.sourceRange().split('\n')[0].strip()
        where = f'{path or "<top>"} ({owner})' + (f' at {source}' if source else '')
        if where not in users:
            users.append(where)
    return users


def _custom_namespace_op(module: nn.Module, example: Tensor) -> Optional[str]:
    """The first traced op outside torch's own namespaces (e.g. ``torchvision::deform_conv2d``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            traced = torch.jit.trace(module, (example, ), check_trace=False)
    except Exception:  # the op cannot be located: the caller reports the error alone
        return None
    for node in traced.inlined_graph.nodes():
        namespace = node.kind().split('::')[0]
        if namespace not in ('aten', 'prim', 'onnx'):
            return node.kind()
    return None


def _explain(error: Exception, module: nn.Module, example: Tensor, opset: int) -> Exception:
    """An :class:`ONNXExportError` naming the unsupported op and its module, if known."""
    match = re.search(r"operator '([\w.]+::[\w.]+)'", str(error))
    if match is None and isinstance(error, torch.onnx.errors.UnsupportedOperatorError):
        # torch's message for a custom namespace names no op ('{op_name}'): find it
        op = _custom_namespace_op(module, example)
        if op is not None:
            match = re.search(r'(.+)', op)
    if match is None:
        return ONNXExportError(f'ONNX export (opset {opset}) failed: '
                               f'{type(error).__name__}: {str(error).splitlines()[0]}')
    op = match.group(1)
    try:
        users = _op_users(module, example, op)
    except Exception as trace_error:  # the trace itself fails: report the op alone
        users = [f'<not located: {type(trace_error).__name__}>']
    return ONNXExportError(
        f'ONNX export (opset {opset}) failed: operator {op!r} has no ONNX conversion; it is '
        f'used in: {"; ".join(users) or "<not located>"}. Replace it in that module by '
        'exportable ops, or register a custom symbolic (torch.onnx.register_custom_op_'
        'symbolic).')


def _check_opset(module: nn.Module, opset: int) -> None:
    """Refuse an opset below the ``onnx_min_opset`` that a submodule declares."""
    needing = [(name or '<top>', sub) for name, sub in module.named_modules()
               if getattr(sub, 'onnx_min_opset', 0) > opset]
    if not needing:
        return
    shown = '; '.join(f'{name} ({type(sub).__name__}) needs opset >= {sub.onnx_min_opset}'
                      for name, sub in needing[:3])
    if len(needing) > 3:
        shown += f'; and {len(needing) - 3} more modules'
    required = max(sub.onnx_min_opset for _, sub in needing)
    raise ONNXExportError(f'ONNX export at opset {opset} is not possible: {shown}. '
                          f'Use opset {required} or higher (--opset).')


def export_onnx(model: nn.Module,
                out_file: str,
                shape: Sequence[int],
                batch_size: int = 1,
                dynamic: bool = False,
                opset: int = DEFAULT_OPSET) -> List[str]:
    """Export ``model.forward_tasks`` to ``out_file``; return the output names.

    Args:
        model: A multi-task model in eval mode (CPU), e.g. from
            :func:`mmmtl.apis.init_model`.
        out_file: The ``.onnx`` file to write.
        shape: Input (H, W) used for tracing; H and W should be multiples of
            the data preprocessor's ``size_divisor``.
        batch_size: Batch of the traced input.
        dynamic: Make batch, height and width dynamic axes. The tracer
            freezes shapes that a model computes in Python (Swin's window
            padding, ``int(size * scale)`` of mmseg's ``Upsample``), so the
            graph is then run at another batch and size
            (``batch_size + 1``, ``H + 32``, ``W + 64``) and must match
            PyTorch there.
        opset: ONNX opset version.

    Raises:
        ONNXExportError: An op cannot be exported (the message names the op
            and the module path(s) using it), a module needs a higher opset
            (its ``onnx_min_opset``), or, with ``dynamic``, the graph is not
            valid at another input shape (the file is removed).
    """
    import onnx
    wrapper = TaskLogitsModule(model).eval()
    _check_opset(wrapper, opset)
    height, width = (int(size) for size in shape)
    example = torch.randn(batch_size, 3, height, width)
    axes = {0: 'batch', 2: 'height', 3: 'width'}
    dynamic_axes = ({name: axes for name in [INPUT_NAME] + wrapper.tasks} if dynamic else None)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # tracer warnings on shape arithmetic
        try:
            torch.onnx.export(
                wrapper, (example, ), out_file, dynamo=False, input_names=[INPUT_NAME],
                output_names=wrapper.tasks, dynamic_axes=dynamic_axes, opset_version=opset,
                do_constant_folding=True)
        except torch.onnx.errors.OnnxExporterError as error:
            raise _explain(error, wrapper, example, opset) from error
        except RuntimeError as error:  # e.g. SymbolicValueError of a partly supported op
            raise _explain(error, wrapper, example, opset) from error
    onnx.checker.check_model(out_file)
    if dynamic:
        probe = torch.randn(batch_size + 1, 3, height + 32, width + 64,
                            generator=torch.Generator().manual_seed(0))
        try:
            wrong = mismatched_tasks(model, out_file, probe)
        except Exception as error:  # onnxruntime cannot even run the other shape
            wrong = {'<all>': f'{type(error).__name__}: {str(error).splitlines()[0]}'}
        if wrong:
            os.remove(out_file)
            raise ONNXExportError(
                f'The graph of {type(model).__name__} exported with dynamic axes is wrong at '
                f'input {tuple(probe.shape)} (traced at {tuple(example.shape)}): '
                + '; '.join(f'{task}: {what}' for task, what in wrong.items())
                + '. The model computes shapes in Python, which tracing freezes (e.g. Swin\'s '
                'window padding, int(size * scale) in mmseg\'s Upsample); export one file '
                'per input size without dynamic axes.')
    return wrapper.tasks


def allowed_difference(reference: Tensor) -> float:
    """Tolerance of onnxruntime logits: ``ATOL + RTOL * max |reference|``."""
    return ATOL + RTOL * float(reference.abs().max())


def mismatched_tasks(model: nn.Module, onnx_file: str, inputs: Tensor) -> Dict[str, str]:
    """``{task: description}`` of the outputs where onnxruntime and PyTorch disagree."""
    with torch.no_grad():
        reference = model.forward_tasks(inputs)
    diffs = compare_with_pytorch(model, onnx_file, inputs, reference)
    return {
        task: f'max |onnxruntime - pytorch| {diff:.2e} > {allowed_difference(reference[task]):.1e}'
        for task, diff in diffs.items() if diff > allowed_difference(reference[task])
    }


def onnx_session(onnx_file: str, device: str = 'cpu', threads: Optional[int] = None):
    """An onnxruntime ``InferenceSession`` (CUDA provider first for ``cuda``)."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    providers = ['CPUExecutionProvider']
    if device.startswith('cuda'):
        if 'CUDAExecutionProvider' not in ort.get_available_providers():
            raise RuntimeError('onnxruntime has no CUDAExecutionProvider here; install '
                               'onnxruntime-gpu or use --device cpu.')
        providers.insert(0, 'CUDAExecutionProvider')
    return ort.InferenceSession(onnx_file, sess_options=options, providers=providers)


def run_onnx(session, inputs: Tensor) -> Dict[str, np.ndarray]:
    """``{output name: array}`` of an onnxruntime session on ``inputs``."""
    outputs = session.run(None, {INPUT_NAME: inputs.detach().cpu().numpy().astype(np.float32)})
    return {meta.name: value for meta, value in zip(session.get_outputs(), outputs)}


def compare_with_pytorch(model: nn.Module, onnx_file: str, inputs: Tensor,
                         reference: Optional[Dict[str, Tensor]] = None) -> Dict[str, float]:
    """Largest absolute difference per task between onnxruntime and PyTorch logits.

    ``reference`` is PyTorch's ``forward_tasks(inputs)`` if already computed.
    """
    if reference is None:
        with torch.no_grad():
            reference = model.forward_tasks(inputs)
    outputs = run_onnx(onnx_session(onnx_file), inputs)
    diffs = {}
    for task, expected in reference.items():
        if task not in outputs:
            raise KeyError(f'{onnx_file}: no output named {task!r} (outputs: {list(outputs)}).')
        got = outputs[task]
        if got.shape != tuple(expected.shape):
            raise ValueError(f'{onnx_file}: output {task!r} has shape {got.shape}, PyTorch '
                             f'{tuple(expected.shape)}.')
        diffs[task] = float(np.abs(got - expected.cpu().numpy()).max())
    return diffs
