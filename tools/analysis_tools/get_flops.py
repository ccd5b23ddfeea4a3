"""Params and FLOPs of a multi-task model (or a KDAM student) at a given input size.

Prints two FLOP counts:
- ``FLOPs`` (paper convention): multiply-accumulates of conv, linear and
  normalisation modules plus element-wise activations, counted by forward
  hooks as mmcv 1.x / ptflops ``get_model_complexity_info`` do; attention
  matmuls and functional interpolation are not counted. This is the figure
  the KDAM paper (Table 1) reports.
- ``FLOPs (full, fvcore)``: every operator fvcore traces, through
  ``mmengine.analysis.FlopAnalyzer`` (matmuls of the attention included;
  fused ``scaled_dot_product_attention``, e.g. timm's ViT, counted by
  :func:`attention_flop_handles`).

Example:
    python tools/analysis_tools/get_flops.py configs/mtl/swinT_nyud.py --shape 425 560
"""
import argparse
from typing import Dict, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config, DictAction

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


def paper_flops(model: nn.Module, inputs: torch.Tensor) -> int:
    """MACs of conv / linear / norm / activation modules for one forward."""
    counter = {'macs': 0}
    handles = [
        m.register_forward_hook(_mac_hook(counter)) for m in model.modules()
        if isinstance(m, (nn.modules.conv._ConvNd, nn.Linear) + _NORMS + _ACTIVATIONS)
    ]
    with torch.no_grad():
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


def full_flops(model: nn.Module, inputs: torch.Tensor) -> int:
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(model, inputs)
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
    print(f'FLOPs: {paper_flops(wrapped, inputs) / 1e9:.2f} G  '
          '(paper convention: conv/linear/norm/activation MACs, as mmcv 1.x)')
    if not args.no_full:
        print(f'FLOPs (full, fvcore): {full_flops(wrapped, inputs) / 1e9:.2f} G  '
              '(every traced op, attention matmuls included)')
    print(split)


if __name__ == '__main__':
    main()
