"""Base class of the multi-task datasets: split files, tasks, file checks."""
import os.path as osp
from collections import Counter
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from mmengine.dataset import BaseDataset

from mmmtl.tasks import check_tasks

SPLIT_NAMES = ('train', 'val', 'test', 'trainval')


def voc_palette(num_classes: int) -> List[Tuple[int, int, int]]:
    """The PASCAL VOC colour map: distinct RGB colours built from index bits."""
    palette = []
    for index in range(num_classes):
        r = g = b = 0
        value = index
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette.append((r, g, b))
    return palette


class BaseMultiTaskDataset(BaseDataset):
    """A dataset whose samples carry one annotation file per task.

    Subclasses set ``TASKS`` (the tasks the data provides) and ``SPLIT_DIR``
    (folder of ``<split>.txt`` files listing sample ids, relative to
    ``data_root``) and implement ``parse_sample(sample_id) -> dict``, the
    data-list entry of one sample.

    Each data-list entry holds ``img_path``, ``sample_id``, ``tasks``,
    ``reduce_zero_label`` and ``ann_info``: task -> ``dict(reader=...,
    path=..., **reader_kwargs)``, read by ``LoadMultiTaskAnnotations``.

    Args:
        data_root: Dataset root.
        split: ``'train'`` / ``'val'`` (``SPLIT_DIR/<split>.txt``) or the path
            of a split file (relative paths are joined with ``data_root``).
        tasks: Tasks to load, a subset of ``TASKS``; all of them by default.
        pipeline: Transforms applied to each sample.
        check_files: Check at start-up that every image and annotation file of
            the split exists, and raise naming the missing ones.
        **kwargs: Other arguments of mmengine's ``BaseDataset``.
    """
    TASKS: Tuple[str, ...] = ()
    SPLIT_DIR: str = ''
    METAINFO: dict = dict()

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 tasks: Optional[Sequence[str]] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 metainfo: Optional[dict] = None,
                 check_files: bool = True,
                 **kwargs) -> None:
        self.tasks = check_tasks(self.TASKS if tasks is None else tasks, self.TASKS,
                                 owner=type(self).__name__)
        self.split = split
        self.check_files = check_files
        metainfo = dict(metainfo or {})
        metainfo.setdefault('tasks', list(self.tasks))
        super().__init__(ann_file=self._split_file(split), metainfo=metainfo,
                         data_root=data_root, data_prefix=dict(), pipeline=list(pipeline),
                         **kwargs)

    def _split_file(self, split: str) -> str:
        if split in SPLIT_NAMES:
            return osp.join(self.SPLIT_DIR, f'{split}.txt')
        if not split.endswith('.txt'):
            raise ValueError(f'split must be one of {SPLIT_NAMES} or the path of a '
                             f'.txt file listing sample ids, got {split!r}')
        return split

    def read_split(self) -> List[str]:
        """Sample ids listed in the split file, one per line."""
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'split file not found: {self.ann_file} '
                                    f'(data_root={self.data_root!r})')
        with open(self.ann_file) as f:
            ids = [line.strip() for line in f if line.strip()]
        if not ids:
            raise ValueError(f'split file {self.ann_file} lists no samples')
        duplicates = sorted(i for i, count in Counter(ids).items() if count > 1)
        if duplicates:
            raise ValueError(f'split file {self.ann_file} lists samples more than '
                             f'once: {duplicates[:5]}')
        return ids

    def shared_info(self) -> Dict[str, object]:
        """Fields added to every sample at load time (not stored per entry)."""
        return {}

    @staticmethod
    def _files_of(info: dict) -> List[Tuple[str, str]]:
        files = [('image', info['img_path'])]
        for task, ann in info['ann_info'].items():
            files.append((task, ann['path']))
            if 'label_map_path' in ann:
                files.append((f'{task} (LabelMap)', ann['label_map_path']))
        return files

    def _check_files(self, data_list: List[dict]) -> None:
        missing = [(info['sample_id'], what, path) for info in data_list
                   for what, path in self._files_of(info) if not osp.isfile(path)]
        if missing:
            listed = '; '.join(f'{sid}: {what} {path}' for sid, what, path in missing[:5])
            more = f' and {len(missing) - 5} more' if len(missing) > 5 else ''
            raise FileNotFoundError(f'split file {self.ann_file} names samples with missing '
                                    f'files: {listed}{more}')

    def load_data_list(self) -> List[dict]:
        data_list = [self.parse_sample(sample_id) for sample_id in self.read_split()]
        for info in data_list:
            info['tasks'] = list(self.tasks)
            info['ann_info'] = {t: info['ann_info'][t] for t in self.tasks}
        if self.check_files:
            self._check_files(data_list)
        return data_list

    def get_data_info(self, idx: int) -> dict:
        info = super().get_data_info(idx)
        info.update(self.shared_info())
        return info
