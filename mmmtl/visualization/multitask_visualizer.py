"""Visualizer that draws image | ground truth | prediction for every task."""
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmengine.dist import master_only
from mmseg.utils import get_classes, get_palette
from mmseg.visualization import SegLocalVisualizer

from mmmtl.registry import VISUALIZERS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import ALL_TASKS, get_task_spec

from .keys import BACKGROUND, font_scale

# dataset_meta keys holding the palette of each label task, first match wins.
# ``part_palette`` is what PascalContextMTLDataset.METAINFO uses.
PALETTE_KEYS: Dict[str, Tuple[str, ...]] = {
    'semseg': ('semseg_palette', 'palette'),
    'human_parts': ('human_parts_palette', 'part_palette'),
}


# dataset_meta keys holding the class names of each label task, first match wins.
CLASS_KEYS: Dict[str, Tuple[str, ...]] = {
    'semseg': ('semseg_classes', 'classes'),
    'human_parts': ('human_parts_classes', 'part_classes'),
}


def _first_in_meta(keys: Sequence[str], meta: Optional[dict]) -> Optional[Sequence]:
    meta = meta or {}
    for key in keys:
        if meta.get(key) is not None:
            return meta[key]
    return None


def task_palette(task: str, meta: Optional[dict]) -> Optional[Sequence]:
    """The palette of ``task`` in dataset meta ``meta`` (:data:`PALETTE_KEYS`), or None."""
    return _first_in_meta(PALETTE_KEYS.get(task, ()), meta)


def task_classes(task: str, meta: Optional[dict]) -> Optional[Sequence[str]]:
    """The class names of ``task`` in dataset meta ``meta`` (:data:`CLASS_KEYS`), or None."""
    return _first_in_meta(CLASS_KEYS.get(task, ()), meta)


def stack_rows(rows: List[np.ndarray]) -> np.ndarray:
    """Rows of one height stacked; narrower rows are padded on the right in white."""
    width = max(row.shape[1] for row in rows)
    return np.concatenate([
        np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=BACKGROUND)
        for row in rows
    ], axis=0)


@VISUALIZERS.register_module()
class MultiTaskVisualizer(SegLocalVisualizer):
    """Draw image | ground truth | prediction | key for every task of a sample.

    The picture is a grid with one row per task (``metainfo['tasks']`` of
    the sample, else every task with a gt or pred field) and the columns
    image | gt | pred (a column is left out with ``draw_gt`` /
    ``draw_pred`` False), followed by the task's key. Every tile has the
    image's aspect ratio, ``tile_height`` pixels high, and a caption
    (``'<task> gt'``).

    Each task kind draws its maps and its key (:class:`~mmmtl.tasks.TaskKind`):
    semseg and human parts in the dataset palette blended over the image
    with opacity ``alpha`` (``alpha * colour + (1 - alpha) * image``, as
    mmseg's ``SegLocalVisualizer``; ignored gt pixels show the image) and a
    legend naming the classes present (dataset ``classes`` /
    ``part_classes``); depth in turbo over the valid gt's range (invalid 0
    black) with a colour bar in metres; normals as (n + 1) / 2 RGB (zero
    vector black) with a sphere coloured the same way; edge and saliency as
    inferno heat maps (ignored gt grey) with a probability colour bar.

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
        alpha: Opacity of label maps over the image (mmseg's ``alpha``;
            1 draws the colours alone).
        draw_keys: Add each task's key (legend, colour bar, normals sphere).
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
                 draw_keys: bool = True,
                 **kwargs) -> None:
        if tile_height < 8:
            raise ValueError(f'MultiTaskVisualizer: tile_height must be >= 8, got {tile_height}')
        super().__init__(name=name, image=image, vis_backends=vis_backends,
                         save_dir=save_dir, alpha=alpha, **kwargs)
        self.tile_height = tile_height
        self.draw_keys = draw_keys
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
        ``classes`` / ``palette`` and ``part_classes`` / ``part_palette``
        (or ``human_parts_*``) are used.
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

    @staticmethod
    def sample_tasks(data_sample: MultiTaskDataSample) -> List[str]:
        """Tasks to draw: ``metainfo['tasks']``, else those with a gt / pred field."""
        tasks = data_sample.metainfo.get('tasks')
        if tasks:
            return [get_task_spec(task).name for task in tasks]
        return [task for task in ALL_TASKS
                if get_task_spec(task).gt_key in data_sample
                or get_task_spec(task).pred_key in data_sample]

    # ------------------------------------------------------------ pieces
    @staticmethod
    def _map(task: str, data_sample: MultiTaskDataSample, key: str) -> Optional[np.ndarray]:
        """Field ``key`` of ``task`` as a (C, H, W) array, or None if it is absent."""
        if key not in data_sample:
            return None
        data = getattr(data_sample, key).data
        data = data.detach().cpu().numpy() if hasattr(data, 'detach') else np.asarray(data)
        kind = get_task_spec(task).task_kind
        if data.ndim != 3 or data.shape[0] != kind.gt_channels:
            raise ValueError(f'MultiTaskVisualizer: {key} of task {task!r} must have shape '
                             f'({kind.gt_channels}, H, W), got {tuple(data.shape)}')
        return data

    @staticmethod
    def _value_range(task: str, gt: Optional[np.ndarray],
                     preds: Sequence[np.ndarray]) -> Optional[Tuple[float, float]]:
        """Value range that the drawings of ``task`` share (depth: the valid gt's,
        else the first prediction's), or None."""
        kind = get_task_spec(task).task_kind
        reference = gt if gt is not None else (preds[0] if preds else None)
        return None if reference is None else kind.color_range(reference)

    def _draw(self, task: str, data: np.ndarray, is_gt: bool, image: np.ndarray,
              value_range: Optional[Tuple[float, float]]) -> np.ndarray:
        """(H, W, 3) RGB of a (C, H, W) map; label maps blended over ``image``."""
        kind = get_task_spec(task).task_kind
        drawn = kind.colorize(data, is_gt, task_palette(task, self.dataset_meta), value_range)
        if not kind.overlay:
            return drawn
        valid = kind.valid_mask(torch.from_numpy(data[None]))[0].numpy()
        return self.blend(image, drawn, valid)

    def blend(self, image: np.ndarray, colors: np.ndarray,
              valid: Optional[np.ndarray] = None) -> np.ndarray:
        """``alpha * colors + (1 - alpha) * image`` on ``valid`` pixels, the image elsewhere.

        ``image`` (RGB) is resized (bilinear) to the size of ``colors`` first.
        """
        height, width = colors.shape[:2]
        if image.shape[:2] != (height, width):
            image = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        mixed = self.alpha * colors.astype(np.float64) + (1 - self.alpha) * image
        out = np.round(mixed).astype(np.uint8)
        if valid is not None:
            out[~valid] = image[~valid]
        return out

    def _key(self, task: str, maps: Sequence[np.ndarray],
             value_range: Optional[Tuple[float, float]]) -> List[np.ndarray]:
        """``[key panel]`` of ``task`` drawn from ``maps``, or [] (no key / keys off)."""
        if not self.draw_keys or not maps:
            return []
        key = get_task_spec(task).task_kind.draw_key(
            task, maps, self.tile_height, task_palette(task, self.dataset_meta),
            task_classes(task, self.dataset_meta), value_range)
        return [] if key is None else [key]

    def _tile(self, image: np.ndarray, size: Tuple[int, int], caption: str) -> np.ndarray:
        """``image`` resized (nearest) to ``size`` = (w, h) with ``caption`` top left."""
        tile = cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)
        tile = np.ascontiguousarray(tile)
        scale = font_scale(self.tile_height)
        origin = (3, 3 + cv2.getTextSize('Ag', cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][1])
        cv2.putText(tile, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3,
                    cv2.LINE_AA)
        cv2.putText(tile, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1,
                    cv2.LINE_AA)
        return tile

    def _checked_image(self, image: np.ndarray) -> Tuple[np.ndarray, Tuple[int, int]]:
        """(H, W, 3) uint8 RGB image and the (w, h) size of its tiles."""
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f'MultiTaskVisualizer: image must be (H, W, 3), got {image.shape}')
        image = image.astype(np.uint8)
        height, width = image.shape[:2]
        return image, (max(1, int(round(width * self.tile_height / height))), self.tile_height)

    # ------------------------------------------------------------ pictures
    def draw_multitask(self, image: np.ndarray, data_sample: MultiTaskDataSample,
                       draw_gt: bool = True, draw_pred: bool = True) -> np.ndarray:
        """Return the grid as (num_tasks * h, W, 3) uint8 RGB.

        Args:
            image: (H, W, 3) RGB (or (H, W) grey) uint8 input image.
            data_sample: Sample with ``gt_*`` and / or ``pred_*`` fields.
            draw_gt: Add the ground-truth column.
            draw_pred: Add the prediction column.

        ``h`` is ``tile_height``; a tile is ``w`` wide (the image's aspect
        ratio), ``W`` is ``num_columns * w`` plus the widest key (rows with
        a narrower key are padded in white). gt and predictions of another
        size are resized with nearest neighbour. A missing field is drawn as
        a black tile.
        """
        image, size = self._checked_image(image)
        blank = np.zeros_like(image)
        rows = []
        for task in self.sample_tasks(data_sample):
            spec = get_task_spec(task)
            gt = self._map(task, data_sample, spec.gt_key) if draw_gt else None
            pred = self._map(task, data_sample, spec.pred_key) if draw_pred else None
            value_range = self._value_range(task, gt, [] if pred is None else [pred])
            row = [self._tile(image, size, task)]
            for wanted, data, is_gt, caption in ((draw_gt, gt, True, 'gt'),
                                                 (draw_pred, pred, False, 'pred')):
                if wanted:
                    drawn = blank if data is None else self._draw(task, data, is_gt, image,
                                                                  value_range)
                    row.append(self._tile(drawn, size, f'{task} {caption}'))
            row += self._key(task, [m for m in (gt, pred) if m is not None], value_range)
            rows.append(np.concatenate(row, axis=1))
        if not rows:
            raise ValueError('MultiTaskVisualizer: the data sample has no task to draw '
                             '(no metainfo "tasks" and no gt_* / pred_* field).')
        return stack_rows(rows)

    def draw_predictions(self, image: np.ndarray,
                         data_sample: MultiTaskDataSample) -> np.ndarray:
        """Return the image, then a row per task: its prediction and its key.

        The image appears once (top), followed by the ``pred_*`` map of
        every task of :meth:`sample_tasks` (inference results have no gt),
        each with its key on the right. Tiles are ``tile_height`` high with
        the image's aspect ratio and a caption; the picture stays about as
        wide as one tile and its widest key, so it fits a page.

        Args:
            image: (H, W, 3) RGB uint8 input image.
            data_sample: Sample with the ``pred_*`` fields.

        Returns:
            ((1 + num_tasks) * tile_height, w + widest key, 3) uint8 RGB.
        """
        image, size = self._checked_image(image)
        rows = [self._tile(image, size, 'image')]
        for task in self.sample_tasks(data_sample):
            pred = self._map(task, data_sample, get_task_spec(task).pred_key)
            if pred is None:
                raise KeyError(f'MultiTaskVisualizer: the data sample has no prediction '
                               f'{get_task_spec(task).pred_key!r} of task {task!r}.')
            value_range = self._value_range(task, None, [pred])
            tile = self._tile(self._draw(task, pred, False, image, value_range), size, task)
            rows.append(np.concatenate([tile] + self._key(task, [pred], value_range), axis=1))
        if len(rows) == 1:
            raise ValueError('MultiTaskVisualizer: the data sample has no task to draw '
                             '(no metainfo "tasks" and no pred_* field).')
        return stack_rows(rows)

    def draw_comparison(self, image: np.ndarray, gt_sample: MultiTaskDataSample,
                        predictions: Dict[str, MultiTaskDataSample]) -> np.ndarray:
        """Several models on one image: a row per task, image, gt, each model, key.

        Columns: the image, the ground truth, then the ``pred_*`` map of
        every model in ``predictions`` order, then the task's key; captions
        name the task and the model. gt and predictions share one depth
        range (the gt's), so the colours compare.

        Args:
            image: (H, W, 3) RGB uint8 input image.
            gt_sample: Sample holding the ``gt_*`` maps.
            predictions: ``{model name: sample with pred_* maps}``.

        Returns:
            (num_tasks * h, (2 + num_models) * w + key width, 3) uint8 RGB.
        """
        image, size = self._checked_image(image)
        if not predictions:
            raise ValueError('MultiTaskVisualizer.draw_comparison needs at least one model.')
        blank = np.zeros_like(image)
        rows = []
        for task in self.sample_tasks(gt_sample):
            spec = get_task_spec(task)
            gt = self._map(task, gt_sample, spec.gt_key)
            preds = {}
            for name, sample in predictions.items():
                preds[name] = self._map(task, sample, spec.pred_key)
                if preds[name] is None:
                    raise KeyError(f'MultiTaskVisualizer: model {name!r} has no prediction '
                                   f'{spec.pred_key!r} of task {task!r}.')
            value_range = self._value_range(task, gt, list(preds.values()))
            row = [self._tile(image, size, 'image')]
            drawn = blank if gt is None else self._draw(task, gt, True, image, value_range)
            row.append(self._tile(drawn, size, f'{task} gt'))
            row += [self._tile(self._draw(task, pred, False, image, value_range), size, name)
                    for name, pred in preds.items()]
            maps = ([] if gt is None else [gt]) + list(preds.values())
            row += self._key(task, maps, value_range)
            rows.append(np.concatenate(row, axis=1))
        return stack_rows(rows)

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
