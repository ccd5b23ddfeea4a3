"""What all tasks of one kind share: the behaviour of their maps.

A task kind (label map, binary map, depth, normals) says how a task's ground
truth becomes a tensor, how its values change when the image is resized or
flipped, which pixels are valid, how logits become a prediction, and how a
map is checked, drawn and saved. Code never asks which kind a task is: it
calls the kind. A new kind is one subclass of :class:`TaskKind` decorated
with :func:`register_task_kind`.

Array layouts: in the data pipeline (numpy) a map is (H, W) or (H, W, C);
packed and in models (torch) it is (C, H, W), batched (N, C, H, W).
"""
from typing import Dict, List, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import torch
from torch import Tensor

Array = Union[np.ndarray, Tensor]


class TaskKind:
    """Behaviour shared by the tasks of one kind (stateless; one instance each).

    Class attributes:
        name: Key of the kind, the ``kind`` of a :class:`TaskSpec`.
        gt_channels: Channels of the ground-truth map.
        gt_dtype: dtype of the packed ground-truth tensor.
        pad_value: Value of padded and invalid ground-truth pixels.
        interpolation: How the ground truth is resized (cv2 name).
        label_map: Whether the ground truth is an integer label map that
            mmseg decode losses (cross entropy, Dice, ...) read.
        target: The stacked ground truth of a batch, in words (error messages).
        loss_hint: Task losses that read this kind's target (error messages).
    """
    name: str = ''
    gt_channels: int = 1
    gt_dtype: torch.dtype = torch.float32
    pad_value: float = 0.
    interpolation: str = 'nearest'
    label_map: bool = False
    target: str = ''
    loss_hint: str = ''

    # ------------------------------------------------ geometry (pipeline)
    def rescale(self, values: Array, image_scale: float) -> Array:
        """Values of a map whose image was resized by ``image_scale``."""
        return values

    def flip(self, values: np.ndarray, direction: str) -> np.ndarray:
        """Values of an (H, W[, C]) map already mirrored in ``direction``."""
        return values

    # --------------------------------------------------------- ground truth
    def valid_mask(self, gt: Tensor) -> Tensor:
        """(N, C, H, W) ground truth -> (N, H, W) bool mask of valid pixels."""
        raise NotImplementedError

    def check_gt(self, gt: np.ndarray, num_classes: Optional[int]) -> Optional[str]:
        """The problem of a finite (H, W[, C]) ground-truth map, or None."""
        return None

    def random_gt(self, num_classes: int, size_hw: Tuple[int, int],
                  generator: Optional[torch.Generator] = None) -> Tensor:
        """A random valid (C, H, W) ground truth, for tests and benchmarks."""
        raise NotImplementedError

    # ---------------------------------------------------------- predictions
    def predict(self, logits: Tensor) -> Tensor:
        """(C, H, W) logits of one image -> its prediction map."""
        raise NotImplementedError

    def color_range(self, gt: np.ndarray) -> Optional[Tuple[float, float]]:
        """Value range shared by drawings of the gt and predictions, if any."""
        return None

    def colorize(self, data: np.ndarray, is_gt: bool, palette: Optional[Sequence] = None,
                 value_range: Optional[Tuple[float, float]] = None) -> np.ndarray:
        """(C, H, W) gt or prediction -> (H, W, 3) uint8 RGB."""
        raise NotImplementedError

    def save(self, pred: np.ndarray, stem: str, depth_png: bool = True) -> List[str]:
        """Write a (C, H, W) prediction as ``stem`` + extension(s); return the paths.

        ``depth_png`` asks for the 16-bit PNG besides depth's ``.npy``.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f'{type(self).__name__}()'


TASK_KINDS: Dict[str, TaskKind] = {}
KindType = TypeVar('KindType', bound=type)


def register_task_kind(cls: KindType) -> KindType:
    """Class decorator: register one instance of a :class:`TaskKind` by its name."""
    if not (isinstance(cls, type) and issubclass(cls, TaskKind)) or not cls.name:
        raise TypeError(f'{cls!r} must be a TaskKind subclass with a name.')
    if cls.name in TASK_KINDS:
        raise KeyError(f'Task kind {cls.name!r} is already registered '
                       f'({type(TASK_KINDS[cls.name]).__name__}).')
    TASK_KINDS[cls.name] = cls()
    return cls


def get_task_kind(name: str) -> TaskKind:
    """The registered :class:`TaskKind` called ``name``, or a clear KeyError."""
    try:
        return TASK_KINDS[name]
    except KeyError:
        raise KeyError(f'Unknown task kind {name!r}; known kinds are '
                       f'{sorted(TASK_KINDS)}.') from None
