"""What reading a teacher cache adds to data loading.

Runs the training pipeline of a cached KDAM config (one with
``LoadTeacherOutputs``) on the same samples with the same random draws, with
and without ``LoadTeacherOutputs``, and prints the median time per sample of
each and the overhead: the share that the cached maps add to the time a
data-loader worker spends on a sample (``data_time`` with ``num_workers=0``).

Example (NYUD-v2's 480x640 images and 45 channels at the paper's 425x560 crop,
on synthetic data and the tiny synthetic teacher's cache):
    python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud_480 \\
        --num-train 8 --num-val 2 --size 480 640
    python tools/benchmarks/bench_cache_loading.py \\
        configs/kdam/kdam_swinL-swinT_40k_nyud-425x560_cached.py --cfg-options \\
        train_dataloader.dataset.data_root=data/synthetic_nyud_480 \\
        train_dataloader.dataset.pipeline.2.cache_dir=CACHE_DIR
"""
import argparse
import statistics
import time

import numpy as np
from mmengine.config import Config, DictAction

from mmmtl.registry import DATASETS
from mmmtl.utils import register_all_modules
from mmmtl.utils.teacher_cache import OUTPUTS_KEY


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Time the loading of cached teacher outputs')
    parser.add_argument('config', help='a config whose training pipeline has LoadTeacherOutputs')
    parser.add_argument('--samples', type=int, default=40, help='timed samples per pipeline')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (key=value)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset_cfg = cfg.train_dataloader.dataset
    pipeline = list(dataset_cfg.pipeline)
    if not any(step['type'] == 'LoadTeacherOutputs' for step in pipeline):
        raise ValueError(f'{args.config}: the training pipeline has no LoadTeacherOutputs.')
    datasets = dict(
        cached=DATASETS.build(dict(dataset_cfg, pipeline=pipeline)),
        plain=DATASETS.build(dict(dataset_cfg, pipeline=[
            step for step in pipeline if step['type'] != 'LoadTeacherOutputs'])))
    times = {name: [] for name in datasets}
    for index in range(args.samples + 1):  # the first round warms the file cache up
        for name, dataset in datasets.items():
            np.random.seed(index)  # the same resize, crop and flip for both
            start = time.perf_counter()
            dataset[index % len(dataset)]
            if index:
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    sample = datasets['cached'][0]['data_samples']
    print(f'{args.config}: {args.samples} samples, crop {tuple(sample.img_shape)}, stored '
          f'outputs {tuple(sample.metainfo[OUTPUTS_KEY].shape)}')
    for name, value in median.items():
        print(f'{name:<8} {value * 1e3:8.1f} ms per sample (median)')
    print(f'overhead of LoadTeacherOutputs: {100 * (median["cached"] / median["plain"] - 1):.1f}%')


if __name__ == '__main__':
    main()
