"""MultiTaskInferencer: mmseg's ``MMSegInferencer`` for multi-task models."""
import os.path as osp
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import COLLATE_FUNCTIONS, pseudo_collate
from mmengine.infer.infer import BaseInferencer
from mmengine.registry import init_default_scope
from mmengine.utils import scandir
from mmengine.visualization import Visualizer

from mmmtl.registry import VISUALIZERS
from mmmtl.structures import MultiTaskDataSample
from mmmtl.tasks import get_task_spec
from mmmtl.utils import register_all_modules
from mmmtl.visualization import MultiTaskVisualizer, save_task_prediction

from .inference import ConfigType, ImageType, InferencePipeline, _load_config, init_model

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
InputsType = Union[ImageType, Sequence[ImageType]]


class MultiTaskInferencer(BaseInferencer):
    """Predict every task of a multi-task model on images, folders or arrays.

    ``inferencer(inputs)`` returns ``dict(predictions=..., visualization=...)``:
    per image a ``{task: array}`` dict (class maps (H, W), depth (H, W) in
    metres, normals (H, W, 3), edge / saliency probabilities (H, W)) and,
    with ``return_vis``, the painted picture (image | every task's
    prediction, RGB). With ``return_datasamples`` it returns the
    :class:`MultiTaskDataSample` (list) instead, as ``MMSegInferencer`` does.

    With ``out_dir``, ``<out_dir>/vis/<name>.png`` receives the painted
    picture and ``<out_dir>/pred/<task>/<name>.png`` each task's file (see
    :func:`mmmtl.visualization.save_task_prediction`; depth also as
    ``.npy``). ``<name>`` is the image file's stem, or a running number
    (``00000000``) for arrays.

    Args:
        model: Config file path or :class:`Config` (a KDAM config gives its
            student).
        weights: Checkpoint; None for an untrained model.
        classes: Semseg class names for the painting (default: the
            checkpoint's or dataset's).
        palette: Semseg palette, (num_classes, 3) RGB.
        device: Device; None picks CUDA when available.
        scope: Registry scope.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = {'show', 'wait_time', 'img_out_dir', 'return_vis'}
    postprocess_kwargs: set = {'pred_out_dir', 'return_datasample'}

    def __init__(self,
                 model: ConfigType,
                 weights: Optional[str] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence] = None,
                 device: Optional[str] = None,
                 scope: Optional[str] = 'mmmtl') -> None:
        self.num_images = 0
        register_all_modules(init_default_scope=False)
        init_default_scope(scope or 'mmmtl')
        cfg = _load_config(model)
        super().__init__(model=cfg, weights=weights, device=device, scope=scope)
        meta = dict(getattr(self.model, 'dataset_meta', None) or {})
        if classes is not None:
            meta['classes'] = list(classes)
        if palette is not None:
            meta['palette'] = [list(color) for color in palette]
        self.visualizer.dataset_meta = meta

    # ------------------------------------------------------------ set-up
    def _init_model(self, cfg: Config, weights: Optional[str], device: str = 'cpu'
                    ) -> nn.Module:
        return init_model(cfg, weights, device=device)

    def _init_pipeline(self, cfg: Config) -> InferencePipeline:
        return InferencePipeline(cfg, self.model.tasks)

    def _init_collate(self, cfg: Config) -> Callable:
        """``test_dataloader.collate_fn`` of the config, else ``pseudo_collate``."""
        collate_cfg = cfg.get('test_dataloader', {}).get('collate_fn')
        if not collate_cfg:
            return pseudo_collate
        return COLLATE_FUNCTIONS.get(collate_cfg['type'])

    def _init_visualizer(self, cfg: Config) -> MultiTaskVisualizer:
        """The config's visualizer without storage backends (files go to ``out_dir``)."""
        vis_cfg = dict(cfg.get('visualizer') or dict(type='MultiTaskVisualizer'))
        vis_cfg.update(vis_backends=None, save_dir=None)
        name = vis_cfg.get('name', 'multitask_inferencer')
        index = 0
        while Visualizer.check_instance_created(f'{name}-inferencer{index}'):
            index += 1
        vis_cfg['name'] = f'{name}-inferencer{index}'
        visualizer = VISUALIZERS.build(vis_cfg)
        if not isinstance(visualizer, MultiTaskVisualizer):
            raise TypeError('MultiTaskInferencer needs a MultiTaskVisualizer, the config has '
                            f'{type(visualizer).__name__}.')
        return visualizer

    # ------------------------------------------------------------ inputs
    def _inputs_to_list(self, inputs: InputsType) -> List[ImageType]:
        """Paths, folders (their image files, sorted) and arrays as a flat list."""
        items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        flat: List[ImageType] = []
        for item in items:
            if isinstance(item, Path):
                item = str(item)
            if isinstance(item, str) and osp.isdir(item):
                files = sorted(
                    osp.join(item, name)
                    for name in scandir(item, IMAGE_EXTENSIONS, recursive=False))
                if not files:
                    raise FileNotFoundError(f'Folder {item!r} holds no image '
                                            f'({", ".join(IMAGE_EXTENSIONS)}).')
                flat.extend(files)
            elif isinstance(item, str) and not osp.isfile(item):
                raise FileNotFoundError(f'Image {item!r} does not exist.')
            else:
                flat.append(item)
        if not flat:
            raise ValueError('MultiTaskInferencer got no input image.')
        return flat

    def _names(self, inputs: List[ImageType]) -> List[str]:
        """Output file stem of every input: the file's stem or a running number."""
        names, used = [], set()
        for index, item in enumerate(inputs):
            if isinstance(item, str):
                name = osp.splitext(osp.basename(item))[0]
            else:
                name = f'{self.num_images + index:08d}'
            unique, copy = name, 1
            while unique in used:
                unique, copy = f'{name}_{copy}', copy + 1
            used.add(unique)
            names.append(unique)
        return names

    def preprocess(self, inputs: List[Tuple[ImageType, str]], batch_size: int = 1, **kwargs):
        """Pack ``(image, name)`` pairs through the pipeline, ``batch_size`` at a time."""
        packed = (self.pipeline(image, sample_id=name) for image, name in inputs)
        yield from map(self.collate_fn, self._get_chunk_data(packed, batch_size))

    # ------------------------------------------------------------ call
    def __call__(self,
                 inputs: InputsType,
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 return_vis: bool = False,
                 show: bool = False,
                 wait_time: float = 0,
                 out_dir: str = '',
                 img_out_dir: str = 'vis',
                 pred_out_dir: str = 'pred',
                 **kwargs) -> Union[dict, MultiTaskDataSample, List[MultiTaskDataSample]]:
        """Run the model on ``inputs``.

        Args:
            inputs: An image path, a folder, an (H, W, 3) BGR array, or a list
                of them.
            return_datasamples: Return the data sample(s) instead of arrays.
            batch_size: Images per forward.
            return_vis: Return the painted pictures too.
            show: Show each painted picture in a window.
            wait_time: Seconds a shown picture stays.
            out_dir: Write pictures and per-task files under this folder.
            img_out_dir: Sub-folder of ``out_dir`` for the pictures.
            pred_out_dir: Sub-folder of ``out_dir`` for the per-task files.
        """
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}.')
        if out_dir:
            img_out_dir, pred_out_dir = osp.join(out_dir, img_out_dir), osp.join(
                out_dir, pred_out_dir)
        else:
            img_out_dir = pred_out_dir = ''
        preprocess_kwargs, forward_kwargs, _, _ = self._dispatch_kwargs(**kwargs)
        ori_inputs = self._inputs_to_list(inputs)
        names = self._names(ori_inputs)
        preds: List[MultiTaskDataSample] = []
        for data in self.preprocess(list(zip(ori_inputs, names)), batch_size=batch_size,
                                    **preprocess_kwargs):
            preds.extend(self.forward(data, **forward_kwargs))
        self.num_images += len(ori_inputs)
        visualization = self.visualize(ori_inputs, preds, return_vis=return_vis, show=show,
                                       wait_time=wait_time, img_out_dir=img_out_dir)
        return self.postprocess(preds, visualization, return_datasamples,
                                pred_out_dir=pred_out_dir)

    # ------------------------------------------------------------ outputs
    def visualize(self,
                  inputs: List[ImageType],
                  preds: List[MultiTaskDataSample],
                  return_vis: bool = False,
                  show: bool = False,
                  wait_time: float = 0,
                  img_out_dir: str = '') -> Optional[List[np.ndarray]]:
        """Paint image | every task's prediction; write ``<img_out_dir>/<name>.png``."""
        if not (return_vis or show or img_out_dir):
            return None
        results = []
        for single_input, pred in zip(inputs, preds):
            if isinstance(single_input, str):
                image = mmcv.imread(single_input, channel_order='rgb')
            else:
                image = np.ascontiguousarray(single_input[..., ::-1])
            drawn = self.visualizer.draw_predictions(image, pred)
            self.visualizer.set_image(drawn)
            name = pred.metainfo['sample_id']
            if show:
                self.visualizer.show(drawn, win_name=name, wait_time=wait_time)
            if img_out_dir:
                mmcv.imwrite(mmcv.rgb2bgr(drawn), osp.join(img_out_dir, f'{name}.png'))
            if return_vis:
                results.append(drawn)
        return results if return_vis else None

    def task_arrays(self, pred: MultiTaskDataSample) -> Dict[str, np.ndarray]:
        """``{task: prediction}`` as arrays: (H, W) maps, (H, W, 3) normals."""
        arrays = {}
        for task in self.model.tasks:
            data = getattr(pred, get_task_spec(task).pred_key).data.cpu().numpy()
            arrays[task] = data.transpose(1, 2, 0) if data.shape[0] == 3 else data[0]
        return arrays

    def postprocess(self,
                    preds: List[MultiTaskDataSample],
                    visualization: Optional[List[np.ndarray]],
                    return_datasample: bool = False,
                    pred_out_dir: str = ''
                    ) -> Union[dict, MultiTaskDataSample, List[MultiTaskDataSample]]:
        """Write the per-task files; return arrays (or the data samples)."""
        if pred_out_dir:
            for pred in preds:
                for task in self.model.tasks:
                    save_task_prediction(task, getattr(pred, get_task_spec(task).pred_key).data,
                                         osp.join(pred_out_dir, task),
                                         pred.metainfo['sample_id'])
        if return_datasample:
            return preds[0] if len(preds) == 1 else preds
        predictions = [self.task_arrays(pred) for pred in preds]
        visualization = visualization if visualization is not None else []
        if len(preds) == 1:
            return dict(predictions=predictions[0],
                        visualization=visualization[0] if visualization else None)
        return dict(predictions=predictions, visualization=visualization)
