"""MultiTaskMetric under DDP and on bad input (numbers vs independent references:
test_multitask_metric_references.py)."""
import os
import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.structures import PixelData

from mmmtl.evaluation import MultiTaskMetric
from mmmtl.structures import MultiTaskDataSample

TASKS = ['semseg', 'depth', 'normal', 'edge', 'saliency', 'human_parts']


def make_samples(num=4, size=(24, 32), seed=0):
    gen = torch.Generator().manual_seed(seed)
    samples = []
    height, width = size
    for index in range(num):
        s = MultiTaskDataSample(metainfo=dict(img_path=f'/data/img_{index}.jpg'))
        sem = torch.randint(0, 5, (1, height, width), generator=gen)
        s.gt_sem_seg = PixelData(data=sem)
        noisy = torch.where(torch.rand(sem.shape, generator=gen) < 0.7, sem,
                            torch.randint(0, 5, sem.shape, generator=gen))
        s.pred_sem_seg = PixelData(data=noisy)
        parts = torch.randint(0, 7, (1, height, width), generator=gen)
        s.gt_human_parts = PixelData(data=parts)
        s.pred_human_parts = PixelData(data=torch.randint(0, 7, parts.shape, generator=gen))
        depth = torch.rand(1, height, width, generator=gen) * 4
        depth[:, :2] = 0
        s.gt_depth = PixelData(data=depth)
        s.pred_depth = PixelData(data=depth + 0.3 * torch.randn(depth.shape, generator=gen))
        normal = torch.nn.functional.normalize(torch.randn(3, height, width, generator=gen), dim=0)
        s.gt_normal = PixelData(data=normal)
        s.pred_normal = PixelData(data=torch.nn.functional.normalize(
            normal + 0.3 * torch.randn(normal.shape, generator=gen), dim=0))
        edge = torch.zeros(1, height, width, dtype=torch.long)
        edge[0, height // 2, 3:-3] = 1
        s.gt_edge = PixelData(data=edge)
        s.pred_edge = PixelData(data=(edge * 0.8 + 0.1 * torch.rand(edge.shape, generator=gen)))
        sal = (torch.rand(1, height, width, generator=gen) > 0.5).long()
        s.gt_saliency = PixelData(data=sal)
        s.pred_saliency = PixelData(data=(sal * 0.6 + 0.4 * torch.rand(sal.shape, generator=gen)))
        samples.append(s)
    return samples


def new_metric(**kwargs):
    return MultiTaskMetric(tasks=TASKS, num_classes=dict(semseg=5, human_parts=7),
                           edge_thresholds=19, **kwargs)


def evaluate(samples, **kwargs):
    metric = new_metric(**kwargs)
    metric.process({}, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _ddp_worker(rank, world_size, port, queue):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    samples = make_samples(num=5)
    metric = new_metric()
    # the sampler's split: rank r takes samples r, r + world_size, ...
    metric.process({}, [s.to_dict() for s in samples[rank::world_size]])
    result = metric.evaluate(len(samples))
    if rank == 0:
        queue.put(result)
    dist.destroy_process_group()


def test_ddp_gives_the_single_process_numbers():
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    mp.spawn(_ddp_worker, args=(2, _free_port(), queue), nprocs=2, join=True)
    distributed = queue.get(timeout=60)
    single = evaluate(make_samples(num=5))
    assert distributed.keys() == single.keys()
    for key in single:
        assert distributed[key] == pytest.approx(single[key], rel=1e-9), key


def test_shape_mismatch_names_task_and_sample():
    samples = make_samples(num=1)
    samples[0].pred_depth = PixelData(data=torch.zeros(1, 10, 10))
    with pytest.raises(ValueError, match=r"task 'depth': sample /data/img_0.jpg: prediction"):
        evaluate(samples)


def test_nan_prediction_names_task_and_sample():
    samples = make_samples(num=1)
    samples[0].pred_normal.data[0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match=r"task 'normal'.*img_0.jpg contains NaN"):
        evaluate(samples)


def test_class_out_of_range_names_task_and_sample():
    samples = make_samples(num=1)
    samples[0].pred_sem_seg.data[0, 0, 0] = 9
    with pytest.raises(ValueError, match=r"task 'semseg': sample /data/img_0.jpg: predicted "
                       'class 9'):
        evaluate(samples)


def test_empty_dataset_is_an_error():
    with pytest.raises(ValueError, match='dataset is empty'):
        new_metric().compute_metrics([])


def test_unknown_task_and_reference_key():
    with pytest.raises(KeyError, match="Unknown task name 'depthh'"):
        MultiTaskMetric(tasks=['depthh'])
    with pytest.raises(KeyError, match='st_reference key'):
        MultiTaskMetric(tasks=['depth'], st_reference={'depth/mae': 1.})


def test_format_only_exports_official_layouts(tmp_path):
    samples = make_samples(num=2)
    metric = new_metric(format_only=True, output_dir=str(tmp_path))
    metric.process({}, [s.to_dict() for s in samples])
    assert metric.evaluate(2) == {}
    import cv2
    edge = cv2.imread(str(tmp_path / 'edge' / 'img_0.png'), cv2.IMREAD_UNCHANGED)
    assert edge.dtype == np.uint8 and edge.shape == (24, 32)
    expected = np.round(samples[0].pred_edge.data[0].numpy() * 255)
    assert np.abs(edge.astype(float) - expected).max() <= 1
    depth = np.load(tmp_path / 'depth' / 'img_1.npy')
    assert np.allclose(depth, samples[1].pred_depth.data[0].numpy())
    for folder in ('semseg', 'human_parts', 'saliency', 'normal'):
        assert (tmp_path / folder / 'img_0.png').exists()
