"""NYUD-v2 for multi-task learning: semseg (40 classes), depth, normal, edge."""
import os.path as osp

from mmmtl.registry import DATASETS

from .base_mtl_dataset import BaseMultiTaskDataset, voc_palette

NYUD_CLASSES = (
    'wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window',
    'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves', 'curtain',
    'dresser', 'pillow', 'mirror', 'floor mat', 'clothes', 'ceiling', 'books',
    'refridgerator', 'television', 'paper', 'towel', 'shower curtain', 'box',
    'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp', 'bathtub',
    'bag', 'otherstructure', 'otherfurniture', 'otherprop')

# File extension of each folder in the two public layouts.
NYUD_LAYOUTS = dict(
    # ATRC / InvPT / DeMT ``NYUDv2`` tarball.
    nyudv2=dict(images='.png', normals='.png', edge='.png'),
    # MTI-Net ``NYUD_MT`` tarball.
    nyud_mt=dict(images='.jpg', normals='.npy', edge='.npy'),
)


@DATASETS.register_module()
class NYUDv2MTLDataset(BaseMultiTaskDataset):
    """NYUD-v2 (795 train / 654 val images) with four dense tasks.

    Both public layouts are read (``layout='auto'`` detects which one from
    the first sample's files)::

        data_root/
          images/<id>.png | .jpg        RGB image (nyudv2 | nyud_mt)
          segmentation/<id>.png         raw 0 = unlabeled, raw k = class k-1
          depth/<id>.npy                float metres, 0 = invalid
          normals/<id>.png | .npy       uint8 (n = 2x/255 - 1) | float [-1, 1]
          edge/<id>.png | .npy          boundary map, > 0 is an edge
          gt_sets/{train,val}.txt       sample ids, one per line

    Files are read as the reference loaders read them (see
    ``docs/dataset_prepare.md``): label PNGs with Pillow (a palette PNG gives
    its indices), normal PNGs as ``2x/255 - 1`` with every pixel kept (only
    the zero vector is ignored).

    Args:
        layout: ``'auto'``, ``'nyudv2'`` or ``'nyud_mt'``.
        **kwargs: See :class:`BaseMultiTaskDataset` (``data_root``,
            ``split``, ``tasks``, ``pipeline``, ...).
    """
    TASKS = ('semseg', 'depth', 'normal', 'edge')
    SPLIT_DIR = 'gt_sets'
    METAINFO = dict(
        classes=NYUD_CLASSES,
        palette=voc_palette(len(NYUD_CLASSES) + 1)[1:],
        num_classes=dict(semseg=len(NYUD_CLASSES)),
    )

    def __init__(self, layout: str = 'auto', **kwargs) -> None:
        if layout != 'auto' and layout not in NYUD_LAYOUTS:
            raise ValueError(f"layout must be 'auto' or one of {sorted(NYUD_LAYOUTS)}, "
                             f'got {layout!r}')
        self.layout = layout
        super().__init__(**kwargs)

    def _path(self, folder: str, sample_id: str, ext: str) -> str:
        return osp.join(self.data_root, folder, sample_id + ext)

    def detect_layout(self, sample_id: str) -> str:
        """Find the layout whose image (and normal) files exist for ``sample_id``."""
        matches = [
            name for name, ext in NYUD_LAYOUTS.items()
            if osp.isfile(self._path('images', sample_id, ext['images']))
        ]
        if len(matches) > 1:  # both image types: decide on the normals
            matches = [
                name for name in matches if osp.isfile(
                    self._path('normals', sample_id, NYUD_LAYOUTS[name]['normals']))
            ]
        if len(matches) != 1:
            raise FileNotFoundError(
                f'cannot detect the NYUD layout of data_root={self.data_root!r}: expected '
                f'images/{sample_id}.png (NYUDv2 layout) or images/{sample_id}.jpg '
                "(NYUD_MT layout); set layout='nyudv2' or 'nyud_mt' explicitly if both "
                'exist')
        return matches[0]

    def load_data_list(self):
        if self.layout == 'auto':
            self.layout = self.detect_layout(self.read_split()[0])
        return super().load_data_list()

    def parse_sample(self, sample_id: str) -> dict:
        ext = NYUD_LAYOUTS[self.layout]
        normal_reader = 'normal_png' if ext['normals'] == '.png' else 'normal_npy'
        edge_reader = 'binary_png' if ext['edge'] == '.png' else 'binary_npy'
        semseg_path = self._path('segmentation', sample_id, '.png')
        return dict(
            img_path=self._path('images', sample_id, ext['images']),
            sample_id=sample_id,
            seg_map_path=semseg_path,
            reduce_zero_label=True,
            layout=self.layout,
            ann_info=dict(
                semseg=dict(reader='label_png', path=semseg_path,
                            num_classes=len(NYUD_CLASSES), reduce_zero_label=True),
                depth=dict(reader='depth_npy', path=self._path('depth', sample_id, '.npy')),
                normal=dict(reader=normal_reader,
                            path=self._path('normals', sample_id, ext['normals'])),
                edge=dict(reader=edge_reader, path=self._path('edge', sample_id, ext['edge']),
                          threshold=0.),
            ))
