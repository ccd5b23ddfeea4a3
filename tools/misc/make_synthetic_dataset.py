"""Write a synthetic multi-task dataset in the exact layout of the real data.

Example::

    python tools/misc/make_synthetic_dataset.py --layout nyud \
        --out data/synthetic_nyud --num-train 40 --num-val 20 --size 96 128

Layouts: ``nyud`` (ATRC / InvPT ``NYUDv2``), ``nyud_mt`` (MTI-Net
``NYUD_MT``) and ``pascal`` (MTI-Net / ATRC ``PASCAL_MT``). See
``mmmtl/datasets/synthetic.py`` for how scenes are rendered.
"""
import argparse
import time

from mmmtl.datasets.synthetic import DIFFICULTIES, LAYOUTS, make_synthetic_dataset


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--layout', choices=LAYOUTS, required=True,
                        help='layout of the real dataset to imitate')
    parser.add_argument('--out', required=True, help='dataset root to write')
    parser.add_argument('--num-train', type=int, default=40, help='training samples')
    parser.add_argument('--num-val', type=int, default=20, help='validation samples')
    parser.add_argument('--size', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'),
                        help='image height and width')
    parser.add_argument('--num-test', type=int, default=0,
                        help='samples of a third split, test (none when 0)')
    parser.add_argument('--difficulty', choices=DIFFICULTIES, default='easy',
                        help='easy: the original scenes; hard: occluders, thin structures, '
                        'random textures, more noise')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    root = make_synthetic_dataset(args.layout, args.out, num_train=args.num_train,
                                  num_val=args.num_val, size=tuple(args.size),
                                  seed=args.seed, num_test=args.num_test,
                                  difficulty=args.difficulty)
    test = f' + {args.num_test} test' if args.num_test else ''
    print(f'wrote {args.num_train} train + {args.num_val} val{test} {args.difficulty} '
          f'{args.layout} samples of '
          f'{args.size[0]}x{args.size[1]} to {root} in {time.perf_counter() - start:.2f} s')


if __name__ == '__main__':
    main()
