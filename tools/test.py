"""Evaluate a multi-task checkpoint (or the student of a KDAM run).

The checkpoint must fit the model exactly (an error in the run's log lists the
keys otherwise). A KDAM config is tested through its student, without building
or loading the teacher; a KDAM checkpoint also fits the plain student config.

Example:
    python tools/test.py configs/mtl/mtl_swinT_40k_nyud-425x560.py \\
        work_dirs/mtl_swinT_40k_nyud-425x560/iter_40000.pth
    python tools/test.py configs/kdam/kdam_swinL-swinT_40k_nyud-425x560.py \\
        work_dirs/kdam_swinL-swinT_40k_nyud-425x560/iter_40000.pth
    python tools/test.py CONFIG CKPT --show-dir vis --metrics-out metrics.json
    python tools/test.py CONFIG CKPT --format-only --out preds/   # SEISM-ready files
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import Config, DictAction

from mmmtl.apis.inference import model_config_for_inference
from mmmtl.engine import MultiTaskRunner
from mmmtl.registry import RUNNERS
from mmmtl.utils import collective_timeout_names_ranks, init_cpu_distributed, register_all_modules
from mmmtl.utils.config_path import check_config_path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a multi-task model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the directory to save logs and metrics')
    parser.add_argument(
        '--out', help='directory to export every prediction to, in the layouts the '
        'official evaluation tools read (see docs/train_test.md)')
    parser.add_argument(
        '--format-only', action='store_true',
        help='only export predictions (to --out), without computing metrics; '
        'useful for cross-checking with SEISM or for a test server')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='directory (inside the run\'s log dir) where painted '
        'multi-task images are saved')
    parser.add_argument('--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument('--metrics-out', help='write the final metrics as JSON to this file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.format_only and not args.out:
        parser.error('--format-only needs --out DIR to write the predictions to')
    return args


def trigger_visualization_hook(cfg: Config, args: argparse.Namespace) -> Config:
    """Turn on drawing in ``default_hooks.visualization`` for --show(-dir)."""
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        raise RuntimeError(
            'VisualizationHook must be included in default_hooks; refer to '
            "configs/_base_/default_runtime.py: visualization=dict(type='"
            "MultiTaskVisualizationHook')")
    visualization_hook = default_hooks['visualization']
    visualization_hook['draw'] = True
    if args.show:
        visualization_hook['show'] = True
        visualization_hook['wait_time'] = args.wait_time
    if args.show_dir:
        visualization_hook['test_out_dir'] = args.show_dir
    return cfg


def set_prediction_export(cfg: Config, out_dir: str, format_only: bool) -> None:
    """Make every ``MultiTaskMetric`` of the test evaluator export predictions."""
    evaluator = cfg.test_evaluator
    metrics = evaluator if isinstance(evaluator, list) else [evaluator]
    if isinstance(evaluator, dict) and 'metrics' in evaluator:
        metrics = evaluator['metrics']
        metrics = metrics if isinstance(metrics, list) else [metrics]
    for metric in metrics:
        metric['output_dir'] = out_dir
        metric['format_only'] = format_only


def main() -> None:
    args = parse_args()
    check_config_path(args.config)
    register_all_modules(init_default_scope=False)

    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    # A KDAM config tests its student: the teacher is neither built nor loaded.
    cfg.model = model_config_for_inference(cfg)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.out:
        set_prediction_export(cfg, osp.abspath(args.out), args.format_only)

    init_cpu_distributed(cfg, args.launcher)

    with collective_timeout_names_ranks(cfg):
        # MultiTaskRunner: strict checkpoint loading.
        runner = (MultiTaskRunner.from_cfg(cfg) if 'runner_type' not in cfg else
                  RUNNERS.build(cfg))
        metrics = runner.test()

    if args.metrics_out and runner.rank == 0:
        os.makedirs(osp.dirname(osp.abspath(args.metrics_out)), exist_ok=True)
        with open(args.metrics_out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f, indent=2)


if __name__ == '__main__':
    main()
