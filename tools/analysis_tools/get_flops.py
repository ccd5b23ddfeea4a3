"""Params and FLOPs of a multi-task model (or a KDAM student) at a given input size.

FLOPs are multiply-accumulates (MACs), in three counts named by ``--convention``:

- ``authors``: what the counters behind the published figures see (mmcv 1.x /
  ptflops ``get_model_complexity_info``): conv, linear and normalisation
  modules plus element-wise activations, counted by forward hooks; attention
  matmuls of the backbone and functional interpolation are not counted.
  Inside a multi-task decoder (ATRC, InvPT) the matrix products of the
  attention (``matmul``, ``bmm``, ``einsum``) are counted too: the
  decoder-focused models' published sizes include them. DeMT's task
  attention counts its four projections (the rule those counters apply to
  ``nn.MultiheadAttention``). Deformable convolutions count nothing: the
  authors' code calls the functional op, which these counters do not see.
  This is the convention of the KDAM paper (Table 1) and of DeMT's figures.
- ``full``: ``authors`` plus every deformable convolution, as a convolution
  plus the bilinear sampling of its inputs (:func:`deform_conv_macs`).
  Without deformable convolutions it equals ``authors``.
- ``fvcore``: every operator fvcore traces, through
  ``mmengine.analysis.FlopAnalyzer`` (attention matmuls everywhere; fused
  ``scaled_dot_product_attention``, e.g. timm's ViT, counted by
  :func:`attention_flop_handles`; deformable convolutions as in ``full``).

Example:
    python tools/analysis_tools/get_flops.py configs/mtl/mtl_swinT_40k_nyud-425x560.py \\
        --shape 425 560
    python tools/analysis_tools/get_flops.py configs/mtl/demt_swinT_40k_nyud-425x560.py \\
        --convention authors full
"""
import argparse
from typing import Callable, Dict, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction
from torch.overrides import TorchFunctionMode

from mmmtl.registry import MODELS
from mmmtl.utils import register_all_modules

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
          nn.modules.instancenorm._InstanceNorm)
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU)
CONVENTIONS = ('authors', 'full', 'fvcore')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Params and FLOPs of a multi-task model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs=2, default=[425, 560],
                        help='input height and width')
    parser.add_argument('--tasks', nargs='+', help='only these task heads (e.g. one task '
                        'for a single-task baseline)')
    parser.add_argument('--convention', nargs='+', choices=CONVENTIONS, default=CONVENTIONS,
                        help='the FLOP counts to print (see the module docstring): authors '
                        '(as the published figures), full (+ deformable sampling), fvcore '
                        '(every traced op; slow for big models)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    return parser.parse_args()


def _mac_hook(counter: Dict[str, int]):

    def hook(module: nn.Module, inputs: Tuple[torch.Tensor], output: torch.Tensor) -> None:
        x = inputs[0]
        if isinstance(module, nn.modules.conv._ConvNd):
            kernel = int(torch.tensor(module.kernel_size).prod())
            macs = output.numel() * kernel * module.in_channels // module.groups
            macs += output.numel() if module.bias is not None else 0
        elif isinstance(module, nn.Linear):
            macs = x.numel() // module.in_features * module.in_features * module.out_features
            macs += output.numel() if module.bias is not None else 0
        elif isinstance(module, _NORMS):
            affine = getattr(module, 'affine', getattr(module, 'elementwise_affine', False))
            macs = x.numel() * (2 if affine else 1)
        else:  # activations
            macs = output.numel()
        counter['macs'] += int(macs)

    return hook


# --- Deformable convolution ---------------------------------------------------


def deform_conv_macs(input_shape: Sequence[int], weight_shape: Sequence[int],
                     output_shape: Sequence[int], with_bias: bool = True,
                     with_mask: bool = False) -> int:
    """MACs of a 2-D deformable convolution.

    At every output location: the weights of a regular convolution
    (``C_out * C_in / groups * kh * kw``), the bilinear sampling of the
    ``C_in * kh * kw`` input values it reads (4 weighted taps each), one
    multiplication per sampled value by its mask for modulated (v2)
    deformable convolution, and the bias. Offsets (and masks) are counted
    where they are computed (usually an ordinary convolution).

    Args:
        input_shape: (N, C_in, H, W).
        weight_shape: (C_out, C_in / groups, kh, kw).
        output_shape: (N, C_out, H_out, W_out).
    """
    batch, in_channels = input_shape[:2]
    out_channels, in_per_group, kernel_h, kernel_w = weight_shape
    locations = batch * output_shape[2] * output_shape[3]
    samples = locations * in_channels * kernel_h * kernel_w
    macs = locations * out_channels * in_per_group * kernel_h * kernel_w + 4 * samples
    if with_mask:
        macs += samples
    if with_bias:
        macs += locations * out_channels
    return int(macs)


def _deform_conv2d_jit_handle(inputs: list, outputs: list) -> int:
    """fvcore handle of ``torchvision::deform_conv2d``.

    Its inputs: input, weight, offset, mask, bias, stride (2), padding (2),
    dilation (2), weight groups, offset groups, use_mask. torchvision passes
    a zero bias when there is none, which is still added.
    """
    from mmengine.analysis.jit_handles import get_shape
    return deform_conv_macs(get_shape(inputs[0]), get_shape(inputs[1]), get_shape(outputs[0]),
                            with_bias=True, with_mask=bool(inputs[13].toIValue()))


def _deform_conv_module_counters() -> Dict[type, Callable]:
    """Deformable convolution modules: mmmtl's, torchvision's and mmcv's."""
    import torchvision.ops
    from mmcv.ops import DeformConv2d, ModulatedDeformConv2d

    from mmmtl.models.layers import ChannelDeformConv2d

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
        modulated = isinstance(module, ModulatedDeformConv2d) or (
            isinstance(module, torchvision.ops.DeformConv2d) and len(inputs) > 2
            and inputs[2] is not None)
        return deform_conv_macs(inputs[0].shape, module.weight.shape, output.shape,
                                with_bias=getattr(module, 'bias', None) is not None,
                                with_mask=modulated)

    return {
        ChannelDeformConv2d: count,
        torchvision.ops.DeformConv2d: count,
        DeformConv2d: count,
        ModulatedDeformConv2d: count,
    }


# --- DeMT's task attention -----------------------------------------------------


def _task_attention_module_counters() -> Dict[type, Callable]:
    """DeMT's :class:`TaskAttention`.

    Counted here: the key and value projections it applies on the query side
    (C x C each per query, plus the bias terms). Its query and output
    projections are ``nn.Linear`` modules, counted as such; the attention
    matmuls are not counted (the rule of ptflops for ``nn.MultiheadAttention``).
    """
    from mmmtl.models.layers import TaskAttention

    def count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
        queries = inputs[0].numel() // module.embed_dims
        return queries * (2 * module.embed_dims**2 + 2 * module.embed_dims)

    return {TaskAttention: count}


def _extra_module_counters(deformable_sampling: bool) -> Dict[type, Callable]:
    """Module types counted by a dedicated rule: ``{type: fn(module, inputs, output)}``;
    without ``deformable_sampling`` deformable convolutions count nothing."""
    counters = _deform_conv_module_counters()
    if not deformable_sampling:
        counters = {cls: lambda *_: 0 for cls in counters}
    counters.update(_task_attention_module_counters())
    return counters


_MATMULS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.bmm,
            torch.Tensor.bmm, torch.mm, torch.Tensor.mm}


def _einsum_macs(args: tuple) -> int:
    """MACs of ``torch.einsum(equation, *operands)``: the product of all index sizes."""
    equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if len(operands) < 2:
        return 0
    sizes = {}
    for spec, operand in zip(equation.replace(' ', '').split('->')[0].split(','), operands):
        if '.' in spec:  # an ellipsis hides index sizes: no count rather than a wrong one
            raise ValueError(f'get_flops: cannot count einsum {equation!r} (it has an '
                             "ellipsis); write the decoder's einsum with explicit indices.")
        sizes.update(zip(spec, operand.shape))
    macs = 1
    for size in sizes.values():
        macs *= int(size)
    return macs


class _DecoderProductCounter(TorchFunctionMode):
    """MACs of the matrix products (matmul / bmm / einsum) run inside decoders.

    Counts only while ``depth > 0``: forward hooks of every
    ``BaseMultiTaskDecoder`` raise and lower it.
    """

    def __init__(self, counter: Dict[str, int]) -> None:
        super().__init__()
        self.counter = counter
        self.depth = 0
        self.paused = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.depth > 0 and not self.paused:
            if func in _MATMULS:
                self.counter['macs'] += int(out.numel()) * int(args[0].shape[-1])
            elif func is torch.einsum:
                self.counter['macs'] += _einsum_macs(args)
        return out


def module_flops(model: nn.Module, inputs: torch.Tensor, deformable_sampling: bool = True) -> int:
    """MACs of conv / linear / norm / activation modules for one forward, plus
    the matrix products inside multi-task decoders: the ``full`` count, or
    without ``deformable_sampling`` the ``authors`` one."""
    from mmmtl.models.decoders import BaseMultiTaskDecoder
    counter = {'macs': 0}
    handles = [
        m.register_forward_hook(_mac_hook(counter)) for m in model.modules()
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear) + _NORMS + _ACTIVATIONS)
    ]
    products = _DecoderProductCounter(counter)
    extra = _extra_module_counters(deformable_sampling)

    def enter(*_) -> None:
        products.depth += 1

    def leave(*_) -> None:
        products.depth -= 1

    def pause(*_) -> None:  # a module with its own rule: its products are in it
        products.paused += 1

    def extra_hook(count: Callable):

        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            products.paused -= 1
            counter['macs'] += int(count(module, inputs, output))

        return hook

    for module in model.modules():
        if isinstance(module, BaseMultiTaskDecoder):
            handles.append(module.register_forward_pre_hook(enter))
            handles.append(module.register_forward_hook(leave))
        count = next((fn for cls, fn in extra.items() if isinstance(module, cls)), None)
        if count is not None:
            handles.append(module.register_forward_pre_hook(pause))
            handles.append(module.register_forward_hook(extra_hook(count)))
    with torch.no_grad(), products:
        model(inputs)
    for handle in handles:
        handle.remove()
    return counter['macs']


def sdpa_flop_jit(inputs, outputs) -> int:
    """MACs of ``aten::scaled_dot_product_attention``.

    q (..., L, E), k (..., S, E), v (..., S, Ev): ``q @ k^T`` takes L*S*E and
    ``softmax(.) @ v`` L*S*Ev multiply-accumulates per leading index (batch x
    heads); scaling and softmax are element-wise and not counted, as fvcore
    counts ``matmul`` / ``bmm`` / ``einsum``.
    """
    from mmengine.analysis.jit_handles import get_shape
    q_shape, k_shape, v_shape = (get_shape(value) for value in inputs[:3])
    leading = 1
    for size in q_shape[:-2]:
        leading *= size
    return leading * q_shape[-2] * k_shape[-2] * (q_shape[-1] + v_shape[-1])


def attention_flop_handles() -> Dict[str, object]:
    """fvcore handles for fused attention ops it does not count by itself."""
    return {'aten::scaled_dot_product_attention': sdpa_flop_jit}


def fvcore_flops(model: nn.Module, inputs: torch.Tensor) -> int:
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle('torchvision::deform_conv2d', _deform_conv2d_jit_handle)
    for name, handle in attention_flop_handles().items():
        analyzer.set_op_handle(name, handle)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return int(analyzer.total())


class _TensorForward(nn.Module):
    """Wrap a segmentor so that ``forward(inputs)`` is its tensor mode."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return tuple(self.model.forward_tasks(inputs).values())


def build_model(cfg: Config, tasks=None) -> nn.Module:
    model_cfg = cfg.model
    if model_cfg.get('type') == 'KDAMDistiller':
        model_cfg = model_cfg.student
    model_cfg.backbone.init_cfg = None  # never download weights to count them
    if tasks:
        unknown = set(tasks) - set(model_cfg.task_heads)
        if unknown:
            raise KeyError(f'--tasks {sorted(unknown)} not in the config\'s task_heads '
                           f'{list(model_cfg.task_heads)}')
        model_cfg.task_heads = {t: model_cfg.task_heads[t] for t in tasks}
    model = MODELS.build(model_cfg)
    return model.eval()


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    from mmengine.model import revert_sync_batchnorm
    model = revert_sync_batchnorm(build_model(cfg, args.tasks))
    wrapped = _TensorForward(model)
    inputs = torch.zeros(1, 3, *args.shape)
    params = sum(p.numel() for p in model.parameters())
    split = '=' * 40
    print(f'{split}\nInput shape: (3, {args.shape[0]}, {args.shape[1]})')
    print(f'Params: {params / 1e6:.2f} M')
    counts = dict(
        authors=(lambda: module_flops(wrapped, inputs, deformable_sampling=False),
                 'conv/linear/norm/activation modules as mmcv 1.x / ptflops count them, plus '
                 'the decoder\'s attention products; deformable convolutions not counted'),
        full=(lambda: module_flops(wrapped, inputs),
              'authors + deformable convolutions with their bilinear sampling'),
        fvcore=(lambda: fvcore_flops(wrapped, inputs),
                'every traced op, attention matmuls included'))
    for convention in CONVENTIONS:
        if convention in args.convention:
            count, meaning = counts[convention]
            print(f'FLOPs ({convention}): {count() / 1e9:.2f} G  ({meaning})')
    print(split)


if __name__ == '__main__':
    main()
