"""Params and FLOPs of a multi-task model (or a KDAM student) at a given input size.

Prints two FLOP counts:
- ``FLOPs`` (paper convention): multiply-accumulates of conv, linear and
  normalisation modules plus element-wise activations, counted by forward
  hooks as mmcv 1.x / ptflops ``get_model_complexity_info`` do; attention
  matmuls of the backbone and functional interpolation are not counted. This
  is the figure the KDAM paper (Table 1) reports. Inside a multi-task decoder
  (ATRC, DeMT, InvPT) the matrix products of the attention (``matmul``,
  ``bmm``, ``einsum``) are counted too: they are functional ops that module
  hooks miss, and the decoder-focused models' published sizes include them.
- ``FLOPs (full, fvcore)``: every operator fvcore traces, through
  ``mmengine.analysis.FlopAnalyzer`` (matmuls of the attention included).

Example:
    python tools/analysis_tools/get_flops.py configs/mtl/swinT_nyud.py --shape 425 560
"""
import argparse
from typing import Dict, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction
from torch.overrides import TorchFunctionMode

from mmmtl.registry import MODELS
from mmmtl.utils import register_all_modules

_NORMS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm,
          nn.modules.instancenorm._InstanceNorm)
_ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Params and FLOPs of a multi-task model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs=2, default=[425, 560],
                        help='input height and width')
    parser.add_argument('--tasks', nargs='+', help='only these task heads (e.g. one task '
                        'for a single-task baseline)')
    parser.add_argument('--no-full', action='store_true', help='skip the fvcore count')
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
        if '.' in spec:  # ellipsis: not used by our decoders
            raise NotImplementedError(f'einsum with an ellipsis: {equation!r}')
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

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.depth > 0:
            if func in _MATMULS:
                self.counter['macs'] += int(out.numel()) * int(args[0].shape[-1])
            elif func is torch.einsum:
                self.counter['macs'] += _einsum_macs(args)
        return out


def paper_flops(model: nn.Module, inputs: torch.Tensor) -> int:
    """MACs of conv / linear / norm / activation modules for one forward, plus
    the matrix products inside multi-task decoders."""
    from mmmtl.models.decoders import BaseMultiTaskDecoder
    counter = {'macs': 0}
    handles = [
        m.register_forward_hook(_mac_hook(counter)) for m in model.modules()
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear) + _NORMS + _ACTIVATIONS)
    ]
    products = _DecoderProductCounter(counter)

    def enter(*_) -> None:
        products.depth += 1

    def leave(*_) -> None:
        products.depth -= 1

    for module in model.modules():
        if isinstance(module, BaseMultiTaskDecoder):
            handles.append(module.register_forward_pre_hook(enter))
            handles.append(module.register_forward_hook(leave))
    with torch.no_grad(), products:
        model(inputs)
    for handle in handles:
        handle.remove()
    return counter['macs']


def full_flops(model: nn.Module, inputs: torch.Tensor) -> int:
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(model, inputs)
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
    print(f'FLOPs: {paper_flops(wrapped, inputs) / 1e9:.2f} G  '
          '(paper convention: conv/linear/norm/activation MACs, as mmcv 1.x, '
          'plus the decoder\'s attention products)')
    if not args.no_full:
        print(f'FLOPs (full, fvcore): {full_flops(wrapped, inputs) / 1e9:.2f} G  '
              '(every traced op, attention matmuls included)')
    print(split)


if __name__ == '__main__':
    main()
