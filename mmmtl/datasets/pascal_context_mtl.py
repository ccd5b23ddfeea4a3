"""PASCAL-Context for multi-task learning (the MTI-Net / ATRC ``PASCAL_MT``)."""
import os.path as osp
from typing import Sequence

from mmmtl.registry import DATASETS

from .annotation_readers import PASCAL_NORMAL_VALID_LABELS
from .base_mtl_dataset import BaseMultiTaskDataset, voc_palette

PASCAL_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus',
                  'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike',
                  'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
HUMAN_PART_CLASSES = ('background', 'head', 'torso', 'upper arm', 'lower arm', 'upper leg',
                      'lower leg')


@DATASETS.register_module()
class PascalContextMTLDataset(BaseMultiTaskDataset):
    """PASCAL-Context (4998 train / 5105 val images) with five dense tasks.

    Layout::

        data_root/
          JPEGImages/<id>.jpg
          semseg/{VOC12,pascal-context}/<id>.png   21 classes, 255 ignore (VOC12:
                                                   palette PNGs, read as indices)
          human_parts/<id>.mat                     PASCAL-Part ``anno``
          normals_distill/<id>.png                 uint8, n = 2x/255 - 1
          sal_distill/<id>.png                     saliency, > 127.5 is salient
          pascal-context/trainval/<id>.mat         ``LabelMap`` (459 classes)
          ImageSets/Context/{train,val}.txt

    Edges are the reference derivation from ``LabelMap`` (non-zero Laplacian,
    thinned with ``skimage.morphology.thin``; see
    :func:`~mmmtl.datasets.annotation_readers.labelmap_to_edge`). Normals
    (decoded ``2x/255 - 1``, every pixel kept) count only on pixels whose
    context label is in ``normal_valid_labels`` (the classes shared with
    NYUD, on which the distilled normals are trusted); the others become the
    zero vector, which is ignored. Images without a person have human parts
    all ignore (255). See ``docs/dataset_prepare.md``.

    Args:
        semseg_dirs: Folders searched in order for ``<id>.png``; the MTI-Net /
            ATRC code prefers the official VOC12 masks where they exist.
        normal_valid_labels: Context labels with valid normals.
        **kwargs: See :class:`BaseMultiTaskDataset`.
    """
    TASKS = ('semseg', 'human_parts', 'saliency', 'normal', 'edge')
    SPLIT_DIR = osp.join('ImageSets', 'Context')
    METAINFO = dict(
        classes=PASCAL_CLASSES,
        palette=voc_palette(len(PASCAL_CLASSES)),
        part_classes=HUMAN_PART_CLASSES,
        part_palette=voc_palette(len(HUMAN_PART_CLASSES)),
        num_classes=dict(semseg=len(PASCAL_CLASSES), human_parts=len(HUMAN_PART_CLASSES)),
    )

    def __init__(self,
                 semseg_dirs: Sequence[str] = ('semseg/VOC12', 'semseg/pascal-context',
                                               'semseg'),
                 normal_valid_labels: Sequence[int] = PASCAL_NORMAL_VALID_LABELS,
                 **kwargs) -> None:
        if not semseg_dirs:
            raise ValueError('semseg_dirs must name at least one folder')
        self.semseg_dirs = tuple(semseg_dirs)
        self.normal_valid_labels = tuple(int(label) for label in normal_valid_labels)
        super().__init__(**kwargs)

    def _semseg_path(self, sample_id: str) -> str:
        candidates = [osp.join(self.data_root, d, sample_id + '.png') for d in self.semseg_dirs]
        for path in candidates:
            if osp.isfile(path):
                return path
        # Missing everywhere: name the file in the first folder that exists.
        for path in candidates:
            if osp.isdir(osp.dirname(path)):
                return path
        return candidates[0]

    def parse_sample(self, sample_id: str) -> dict:
        root = self.data_root
        label_map_path = osp.join(root, 'pascal-context', 'trainval', sample_id + '.mat')
        semseg_path = self._semseg_path(sample_id)
        return dict(
            img_path=osp.join(root, 'JPEGImages', sample_id + '.jpg'),
            sample_id=sample_id,
            seg_map_path=semseg_path,
            reduce_zero_label=False,
            ann_info=dict(
                semseg=dict(reader='label_png', path=semseg_path,
                            num_classes=len(PASCAL_CLASSES)),
                human_parts=dict(reader='human_parts_mat',
                                 path=osp.join(root, 'human_parts', sample_id + '.mat')),
                saliency=dict(reader='binary_png', threshold=127.5,
                              path=osp.join(root, 'sal_distill', sample_id + '.png')),
                normal=dict(reader='normal_png', label_map_path=label_map_path,
                            path=osp.join(root, 'normals_distill', sample_id + '.png')),
                edge=dict(reader='context_edge_mat', path=label_map_path),
            ))

    def shared_info(self) -> dict:
        return dict(normal_valid_labels=self.normal_valid_labels)
