"""Visualizer that draws image | ground truth | prediction for every task."""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.dist import master_only
from mmseg.utils import get_classes, get_palette
from mmseg.visualization import SegLocalVisualizer

from mmmtl.registry import VISUALIZERS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import ALL_TASKS, get_task_spec

# dataset_meta keys holding the palette of each label task, first match wins.
# ``part_palette`` is what PascalContextMTLDataset.METAINFO uses.
PALETTE_KEYS: Dict[str, Tuple[str, ...]] = {
    'semseg': ('semseg_palette', 'palette'),
    'human_parts': ('human_parts_palette', 'part_palette'),
}


@VISUALIZERS.register_module()
class MultiTaskVisualizer(SegLocalVisualizer):
    """Draw image | ground truth | prediction for every task of a sample.

    The picture is a grid with one row per task (``metainfo['tasks']`` of
    the sample, else every task with a gt or pred field) and the columns
    image | gt | pred (a column is left out with ``draw_gt`` /
    ``draw_pred`` False). Every tile has the image's aspect ratio,
    ``tile_height`` pixels high, and a small caption (``'<task> gt'``).

    Colours: dataset palettes for semseg and human parts (deterministic
    colours for classes without one; ignore 255 is black), turbo for depth
    with the range of the valid gt for both gt and pred (invalid 0 is
    black), (n + 1) / 2 as RGB for normals (zero vector black), inferno heat
    maps for edge and saliency (probability for pred, 0/1 for gt; ignored
    gt pixels grey).

    The grid goes to the vis backends (``LocalVisBackend``,
    ``TensorboardVisBackend``, ...) through :meth:`add_image`, or to
    ``out_file`` when given.

    Args:
        name: Instance name.
        image: Optional initial image.
        vis_backends: Visualisation backend configs.
        save_dir: Where the backends write.
        classes: Semseg class names.
        palette: Semseg palette, (num_classes, 3) RGB.
        dataset_name: mmseg dataset name to take classes / palette from.
        human_parts_classes: Human part names.
        human_parts_palette: Human parts palette, (num_parts, 3) RGB.
        tile_height: Height of each tile in pixels.
        alpha: Kept for :class:`SegLocalVisualizer` compatibility.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[List[Dict]] = None,
                 save_dir: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence] = None,
                 dataset_name: Optional[str] = None,
                 human_parts_classes: Optional[Sequence[str]] = None,
                 human_parts_palette: Optional[Sequence] = None,
                 tile_height: int = 240,
                 alpha: float = 0.8,
                 **kwargs) -> None:
        if tile_height < 8:
            raise ValueError(f'MultiTaskVisualizer: tile_height must be >= 8, got {tile_height}')
        super().__init__(name=name, image=image, vis_backends=vis_backends,
                         save_dir=save_dir, alpha=alpha, **kwargs)
        self.tile_height = tile_height
        self.set_dataset_meta(classes=classes, palette=palette, dataset_name=dataset_name,
                              human_parts_classes=human_parts_classes,
                              human_parts_palette=human_parts_palette)

    def set_dataset_meta(self,
                         classes: Optional[Sequence[str]] = None,
                         palette: Optional[Sequence] = None,
                         dataset_name: Optional[str] = None,
                         human_parts_classes: Optional[Sequence[str]] = None,
                         human_parts_palette: Optional[Sequence] = None) -> None:
        """Set the classes / palettes of the label tasks.

        Unlike :class:`SegLocalVisualizer` nothing defaults to Cityscapes:
        without a palette, deterministic colours are used. A runner later
        replaces ``dataset_meta`` by the dataset's ``metainfo``, whose
        ``palette`` / ``part_palette`` (or ``human_parts_palette``) are used.
        """
        if dataset_name is not None:
            classes = classes or get_classes(dataset_name)
            palette = palette or get_palette(dataset_name)
        meta = {}
        for task_name, names, colors in (('semseg', classes, palette),
                                         ('human_parts', human_parts_classes,
                                          human_parts_palette)):
            if names and colors and len(names) != len(colors):
                raise ValueError(f'MultiTaskVisualizer: {task_name} has {len(names)} classes '
                                 f'but {len(colors)} palette colours')
        if classes:
            meta['classes'] = list(classes)
        if palette:
            meta['palette'] = [list(c) for c in palette]
        if human_parts_classes:
            meta['human_parts_classes'] = list(human_parts_classes)
        if human_parts_palette:
            meta['human_parts_palette'] = [list(c) for c in human_parts_palette]
        self.dataset_meta: dict = meta

    def _palette(self, task: str) -> Optional[Sequence]:
        meta = self.dataset_meta or {}
        for key in PALETTE_KEYS.get(task, ()):
            if meta.get(key) is not None:
                return meta[key]
        return None

    @staticmethod
    def sample_tasks(data_sample: MultiTaskDataSample) -> List[str]:
        """Tasks to draw: ``metainfo['tasks']``, else those with a gt / pred field."""
        tasks = data_sample.metainfo.get('tasks')
        if tasks:
            return [get_task_spec(task).name for task in tasks]
        return [task for task in ALL_TASKS
                if get_task_spec(task).gt_key in data_sample
                or get_task_spec(task).pred_key in data_sample]

    @staticmethod
    def _gt_range(task: str, data_sample: MultiTaskDataSample) -> Optional[Tuple[float, float]]:
        """Value range that the gt and predictions of ``task`` share in colour
        (depth: the valid gt's), or None."""
        spec = get_task_spec(task)
        if spec.gt_key not in data_sample:
            return None
        return spec.task_kind.color_range(
            getattr(data_sample, spec.gt_key).data.detach().cpu().numpy())

    def _colorize(self, task: str, data_sample: MultiTaskDataSample, key: str,
                  gt_range: Optional[Tuple[float, float]]) -> Optional[np.ndarray]:
        """(H, W, 3) RGB of field ``key`` of ``task``, or None if it is absent.

        ``gt_range``: value range of the gt's colours (:meth:`_gt_range`)."""
        if key not in data_sample:
            return None
        data = getattr(data_sample, key).data
        data = data.detach().cpu().numpy() if hasattr(data, 'detach') else np.asarray(data)
        spec = get_task_spec(task)
        kind = spec.task_kind
        if data.ndim != 3 or data.shape[0] != kind.gt_channels:
            raise ValueError(f'MultiTaskVisualizer: {key} of task {task!r} must have shape '
                             f'({kind.gt_channels}, H, W), got {tuple(data.shape)}')
        return kind.colorize(data, key == spec.gt_key, self._palette(task), gt_range)

    def _tile(self, image: np.ndarray, size: Tuple[int, int], caption: str) -> np.ndarray:
        """``image`` resized (nearest) to ``size`` = (w, h) with ``caption`` top left."""
        tile = cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)
        tile = np.ascontiguousarray(tile)
        scale = max(0.3, self.tile_height / 400)
        origin = (3, 3 + int(round(22 * scale)))
        cv2.putText(tile, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3,
                    cv2.LINE_AA)
        cv2.putText(tile, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
        return tile

    def draw_multitask(self, image: np.ndarray, data_sample: MultiTaskDataSample,
                       draw_gt: bool = True, draw_pred: bool = True) -> np.ndarray:
        """Return the grid as (num_tasks * h, num_columns * w, 3) uint8 RGB.

        Args:
            image: (H, W, 3) RGB (or (H, W) grey) uint8 input image.
            data_sample: Sample with ``gt_*`` and / or ``pred_*`` fields.
            draw_gt: Add the ground-truth column.
            draw_pred: Add the prediction column.

        ``h`` is ``tile_height`` and ``w`` keeps the image's aspect ratio;
        gt and predictions of another size are resized with nearest neighbour.
        A missing field is drawn as a black tile.
        """
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'MultiTaskVisualizer: image must be (H, W, 3), got {image.shape}')
        image = image.astype(np.uint8)
        height, width = image.shape[:2]
        size = (max(1, int(round(width * self.tile_height / height))), self.tile_height)
        blank = np.zeros_like(image)
        rows = []
        for task in self.sample_tasks(data_sample):
            spec = get_task_spec(task)
            gt_range = self._gt_range(task, data_sample)
            row = [self._tile(image, size, task)]
            for wanted, key, caption in ((draw_gt, spec.gt_key, 'gt'),
                                         (draw_pred, spec.pred_key, 'pred')):
                if wanted:
                    drawn = self._colorize(task, data_sample, key, gt_range)
                    row.append(self._tile(blank if drawn is None else drawn, size,
                                          f'{task} {caption}'))
            rows.append(np.concatenate(row, axis=1))
        if not rows:
            raise ValueError('MultiTaskVisualizer: the data sample has no task to draw '
                             '(no metainfo "tasks" and no gt_* / pred_* field).')
        return np.concatenate(rows, axis=0)

    def draw_predictions(self, image: np.ndarray,
                         data_sample: MultiTaskDataSample) -> np.ndarray:
        """Return image | pred of task 1 | pred of task 2 ... as one row.

        The image appears once, followed by the ``pred_*`` map of every task
        of :meth:`sample_tasks` (inference results have no gt). Each tile is
        ``tile_height`` high with the image's aspect ratio and a caption.

        Args:
            image: (H, W, 3) RGB uint8 input image.
            data_sample: Sample with the ``pred_*`` fields.

        Returns:
            (tile_height, (1 + num_tasks) * w, 3) uint8 RGB.
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'MultiTaskVisualizer: image must be (H, W, 3), got {image.shape}')
        image = image.astype(np.uint8)
        height, width = image.shape[:2]
        size = (max(1, int(round(width * self.tile_height / height))), self.tile_height)
        tiles = [self._tile(image, size, 'image')]
        for task in self.sample_tasks(data_sample):
            drawn = self._colorize(task, data_sample, get_task_spec(task).pred_key, None)
            if drawn is None:
                raise KeyError(f'MultiTaskVisualizer: the data sample has no prediction '
                               f'{get_task_spec(task).pred_key!r} of task {task!r}.')
            tiles.append(self._tile(drawn, size, task))
        if len(tiles) == 1:
            raise ValueError('MultiTaskVisualizer: the data sample has no task to draw '
                             '(no metainfo "tasks" and no pred_* field).')
        return np.concatenate(tiles, axis=1)

    def draw_comparison(self, image: np.ndarray, gt_sample: MultiTaskDataSample,
                        predictions: Dict[str, MultiTaskDataSample]) -> np.ndarray:
        """Several models on one image: a row per task, gt then each model.

        Columns: the image (first row only), the ground truth, then the
        ``pred_*`` map of every model in ``predictions`` order; captions name
        the task and the model. gt and predictions share one depth range (the
        gt's), so the colours compare.

        Args:
            image: (H, W, 3) RGB uint8 input image.
            gt_sample: Sample holding the ``gt_*`` maps.
            predictions: ``{model name: sample with pred_* maps}``.

        Returns:
            (num_tasks * h, (2 + num_models) * w, 3) uint8 RGB.
        """
        image = np.asarray(image).astype(np.uint8)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'MultiTaskVisualizer: image must be (H, W, 3), got {image.shape}')
        if not predictions:
            raise ValueError('MultiTaskVisualizer.draw_comparison needs at least one model.')
        height, width = image.shape[:2]
        size = (max(1, int(round(width * self.tile_height / height))), self.tile_height)
        blank = np.zeros_like(image)
        rows = []
        for index, task in enumerate(self.sample_tasks(gt_sample)):
            spec = get_task_spec(task)
            gt_range = self._gt_range(task, gt_sample)
            row = [self._tile(image if index == 0 else blank, size, 'image' if index == 0 else '')]
            drawn = self._colorize(task, gt_sample, spec.gt_key, gt_range)
            row.append(self._tile(blank if drawn is None else drawn, size, f'{task} gt'))
            for name, sample in predictions.items():
                drawn = self._colorize(task, sample, spec.pred_key, gt_range)
                if drawn is None:
                    raise KeyError(f'MultiTaskVisualizer: model {name!r} has no prediction '
                                   f'{spec.pred_key!r} of task {task!r}.')
                row.append(self._tile(drawn, size, name))
            rows.append(np.concatenate(row, axis=1))
        return np.concatenate(rows, axis=0)

    @master_only
    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample: Optional[MultiTaskDataSample] = None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       step: int = 0,
                       with_labels: Optional[bool] = True) -> None:
        """Draw ``data_sample`` next to the (H, W, 3) RGB ``image`` and store it.

        Args:
            name: Image name in the backends / window title.
            image: (H, W, 3) RGB uint8 image.
            data_sample: Sample to draw; None stores the image alone.
            draw_gt: Draw the ground-truth column.
            draw_pred: Draw the prediction column.
            show: Show the grid in a window.
            wait_time: Seconds the window stays.
            out_file: Write the grid here (PNG / JPEG) instead of to the backends.
            step: Global step for the backends.
            with_labels: Unused; kept for :class:`SegLocalVisualizer` callers.
        """
        if data_sample is None:
            drawn = np.asarray(image, dtype=np.uint8)
        else:
            drawn = self.draw_multitask(image, data_sample, draw_gt, draw_pred)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(mmcv.rgb2bgr(drawn), out_file)
        else:
            self.add_image(name, drawn, step)
