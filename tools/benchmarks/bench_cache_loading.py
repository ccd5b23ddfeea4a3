"""What reading a teacher cache adds to data loading.

Runs the training pipeline of a cached KDAM config (one with
``LoadTeacherOutputs``) on the same samples with the same random draws, with
and without ``LoadTeacherOutputs``, and prints the median time per sample of
each and what the cache adds: the median of the per-sample differences
(paired: the same sample and draws, one pipeline right after the other), as a
share of the plain pipeline's median, which is the time a data-loader worker
spends on a sample (``data_time`` with ``num_workers=0``).

Example (NYUD-v2's 480x640 images and 45 channels at the paper's 425x560 crop,
on synthetic data; ``--random-cache`` writes a cache of random outputs of the
config's distilled tasks and channels for it, since the time does not depend
on the values):
    python tools/misc/make_synthetic_dataset.py --layout nyud --out data/synthetic_nyud_480 \\
        --num-train 8 --num-val 2 --size 480 640
    python tools/benchmarks/bench_cache_loading.py \\
        configs/kdam/kdam_swinL-swinT_40k_nyud-425x560_cached.py --random-cache \\
        --cfg-options train_dataloader.dataset.data_root=data/synthetic_nyud_480
"""
import argparse
import os.path as osp
import shutil
import statistics
import tempfile
import time

import mmcv
import numpy as np
from mmengine.config import Config, DictAction

from mmmtl.registry import DATASETS, MODELS
from mmmtl.utils import register_all_modules
from mmmtl.utils.teacher_cache import (
    OUTPUTS_KEY,
    make_manifest,
    stored_size,
    write_entry,
    write_manifest,
)

CACHE_SCALE = 0.25


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Time the loading of cached teacher outputs')
    parser.add_argument('config', help='a config whose training pipeline has LoadTeacherOutputs')
    parser.add_argument('--samples', type=int, default=40, help='timed samples per pipeline')
    parser.add_argument('--random-cache', action='store_true',
                        help='write a cache of random float16 outputs of the distilled tasks '
                        f'at scale {CACHE_SCALE} for the dataset into a temporary directory '
                        'and time that one')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config (key=value)')
    return parser.parse_args()


def write_random_cache(cfg: Config, dataset, root: str) -> None:
    """A cache of random outputs of ``cfg``'s distilled tasks for every sample of ``dataset``."""
    channels = MODELS.build(cfg.model.student).task_channels
    tasks = list(cfg.model.distill_losses)
    infos = [dataset.get_data_info(index) for index in range(len(dataset))]
    samples = {info['sample_id']: info['img_path'] for info in infos}
    if not samples:
        raise ValueError(f'{dataset.data_root}: the training set is empty')
    write_manifest(root, make_manifest(
        teacher=dict(config='random', config_sha256=None, checkpoint=None,
                     checkpoint_sha256=None),
        dataset_type=type(dataset).__name__, data_root=dataset.data_root, split=dataset.split,
        samples=samples, tasks=tasks, outputs=[(task, channels[task]) for task in tasks],
        scale=CACHE_SCALE, dtype='float16', view={}))
    rng = np.random.default_rng(0)
    for sample_id, img_path in samples.items():
        size = stored_size(*mmcv.imread(img_path).shape[:2], CACHE_SCALE)
        write_entry(root, sample_id, [rng.normal(size=(*size, channels[task]))
                                      for task in tasks], 'float16')


def main() -> None:
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    dataset_cfg = cfg.train_dataloader.dataset
    pipeline = list(dataset_cfg.pipeline)
    steps = [i for i, step in enumerate(pipeline) if step['type'] == 'LoadTeacherOutputs']
    if not steps:
        raise ValueError(f'{args.config}: the training pipeline has no LoadTeacherOutputs.')
    plain_pipeline = [step for step in pipeline if step['type'] != 'LoadTeacherOutputs']
    if args.random_cache:
        cache_dir = tempfile.mkdtemp(prefix='random_teacher_cache_')
        write_random_cache(cfg, DATASETS.build(dict(dataset_cfg, pipeline=plain_pipeline)),
                           cache_dir)
        pipeline[steps[0]] = dict(pipeline[steps[0]], cache_dir=cache_dir)
        print(f'random cache in {osp.abspath(cache_dir)}')
    datasets = dict(
        cached=DATASETS.build(dict(dataset_cfg, pipeline=pipeline)),
        plain=DATASETS.build(dict(dataset_cfg, pipeline=plain_pipeline)))
    times = {name: [] for name in datasets}
    for index in range(args.samples + 1):  # the first round warms the file cache up
        for name, dataset in datasets.items():
            np.random.seed(index)  # the same resize, crop and flip for both
            start = time.perf_counter()
            dataset[index % len(dataset)]
            if index:
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    # paired: the same sample with the same draws, one right after the other
    added = statistics.median(c - p for c, p in zip(times['cached'], times['plain']))
    sample = datasets['cached'][0]['data_samples']
    print(f'{args.config}: {args.samples} samples, crop {tuple(sample.img_shape)}, stored '
          f'outputs {tuple(sample.get(OUTPUTS_KEY).shape)}')
    for name, value in median.items():
        print(f'{name:<8} {value * 1e3:8.2f} ms per sample (median)')
    print(f'added by the cache: {added * 1e3:.2f} ms per sample (median of the paired '
          f'differences) = {100 * added / median["plain"]:.1f}% of the plain pipeline')
    if args.random_cache:
        shutil.rmtree(cache_dir)


if __name__ == '__main__':
    main()
