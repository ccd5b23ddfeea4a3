"""Print the whole config a run would use (bases merged, ``--cfg-options`` applied).

Example:
    python tools/misc/print_config.py configs/kdam/swinT_nyud.py
    python tools/misc/print_config.py configs/mtl/swinT_nyud.py \\
        --cfg-options train_dataloader.batch_size=2 --dump work_dirs/swinT_nyud_bs2.py
    python tools/misc/print_config.py configs/synthetic/mtl_student_synthetic_nyud.py --graph
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from mmengine.config import Config, DictAction

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmmtl.utils.config_path import check_config_path  # noqa: E402


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Print the whole config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--graph', action='store_true',
                        help='also build the model (no weights loaded) and print it')
    parser.add_argument('--dump', help='also write the whole config to this file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    return parser.parse_args(argv)


def model_graph(cfg: Config) -> str:
    """The model ``cfg`` builds, printed; no pretrained or teacher weights are loaded."""
    from mmmtl.registry import MODELS
    from mmmtl.utils import register_all_modules
    register_all_modules()
    model_cfg = cfg.model.copy()
    if model_cfg.get('type') == 'KDAMDistiller':  # the teacher's weights do not change it
        model_cfg.allow_untrained_teacher = True
    return str(MODELS.build(model_cfg))


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    check_config_path(args.config)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    print(f'Config:\n{cfg.pretty_text}')
    if args.dump:
        os.makedirs(osp.dirname(osp.abspath(args.dump)), exist_ok=True)
        cfg.dump(args.dump)
        print(f'Config written to {args.dump}')
    if args.graph:
        print(f'Model graph:\n{model_graph(cfg)}')


if __name__ == '__main__':
    main()
