"""Readers of the annotation files of the multi-task datasets.

Each reader takes a file path and returns the map in the pipeline format of
``docs/architecture.md``. Readers raise ``FileNotFoundError`` for a missing
file and ``ValueError`` naming the file for corrupt content, so bad data is
never silently used.

They follow the reference loaders of MTI-Net / ATRC / InvPT: label PNGs are
read with Pillow (palette PNGs give their indices), normal PNGs are decoded
as ``2 * x / 255 - 1`` with every pixel kept, and PASCAL-Context edges are
the ``skimage.morphology.thin`` of the Laplacian band of ``LabelMap``.
"""
import os.path as osp
from typing import Callable, Dict, Optional, Sequence

import cv2
import numpy as np
from PIL import Image
from skimage.morphology import thin

from mmmtl.tasks import IGNORE_INDEX

# Context labels (PASCAL-Context 459-class ``LabelMap``) of the classes that
# NYUD-v2 also has, plus ``tvmonitor``: the distilled PASCAL normals come
# from a NYUD-trained network and are only trusted on these classes (the
# MTI-Net / ATRC protocol).
PASCAL_NORMAL_VALID_LABELS = (
    3, 4, 6, 9, 10, 11, 13, 15, 17, 18, 22, 23, 29, 30, 33, 34, 36, 37, 38, 39,
    41, 43, 46, 49, 50, 51, 53, 55, 56, 59, 61, 62, 65, 66, 68, 69, 72, 73, 78,
    83, 84, 85, 87, 88, 95, 96, 101, 104, 105, 107, 111, 113, 115, 122, 124,
    135, 141, 142, 143, 146, 150, 154, 157, 158, 159, 165, 172, 174, 181, 183,
    184, 191, 193, 195, 197, 199, 202, 213, 215, 216, 219, 220, 223, 225, 228,
    230, 232, 233, 238, 239, 242, 243, 246, 250, 251, 252, 255, 260, 261, 263,
    269, 272, 273, 275, 281, 283, 284, 285, 286, 287, 288, 290, 291, 292, 293,
    295, 304, 307, 309, 310, 314, 315, 319, 323, 329, 330, 331, 336, 342, 345,
    349, 350, 351, 352, 355, 357, 368, 370, 371, 374, 379, 380, 383, 384, 397,
    401, 403, 405, 407, 408, 411, 412, 413, 414, 417, 419, 421, 423, 427, 429,
    430, 432, 440, 441, 442, 443, 444, 446, 454, 457)

# PASCAL-Part person part names -> the 6 merged parts (0 is background):
# 1 head, 2 torso, 3 upper arms, 4 lower arms (with hands),
# 5 upper legs, 6 lower legs (with feet).
HUMAN_PART_IDS: Dict[str, int] = {
    **{name: 1 for name in ('hair', 'head', 'lear', 'rear', 'leye', 'reye',
                            'lebrow', 'rebrow', 'mouth', 'nose')},
    'torso': 2, 'neck': 2,
    'luarm': 3, 'ruarm': 3,
    'llarm': 4, 'rlarm': 4, 'lhand': 4, 'rhand': 4,
    'luleg': 5, 'ruleg': 5,
    'llleg': 6, 'rlleg': 6, 'lfoot': 6, 'rfoot': 6,
}
PERSON_CLASS_INDEX = 15  # 'person' in the 21 VOC classes


def check_file(path: str, what: str) -> None:
    """Raise ``FileNotFoundError`` naming ``what`` if ``path`` is missing."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} file not found: {path}')


def imread_unchanged(path: str) -> np.ndarray:
    """Read an image with its stored depth and channels (BGR for colour)."""
    check_file(path, 'annotation')
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'cannot decode image file {path}')
    return image


def _load_npy(path: str) -> np.ndarray:
    check_file(path, 'annotation')
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        raise ValueError(f'cannot read numpy file {path}: {error}') from None


def load_mat(path: str) -> dict:
    """Read a MATLAB file with scipy."""
    from scipy.io import loadmat
    check_file(path, 'annotation')
    try:
        return loadmat(path)
    except Exception as error:  # scipy raises several unrelated types
        raise ValueError(f'cannot read MATLAB file {path}: {error}') from None


def check_label_range(label: np.ndarray, num_classes: int, path: str) -> None:
    """Raise if a label other than 255 is outside ``[0, num_classes)``."""
    invalid = (label != IGNORE_INDEX) & ((label < 0) | (label >= num_classes))
    if invalid.any():
        values = np.unique(label[invalid])[:10].tolist()
        raise ValueError(f'label values {values} in {path} are outside the class '
                         f'range [0, {num_classes}) and are not the ignore '
                         f'index {IGNORE_INDEX}')


def read_index_png(path: str) -> np.ndarray:
    """The values (H, W) stored in a label PNG, as the reference loaders see them.

    Read with Pillow, like ``np.array(Image.open(path))`` in the MTI-Net /
    ATRC / InvPT loaders and mmseg's ``LoadAnnotations``: a palette ("P")
    PNG such as a VOC2012 mask gives its palette indices, a grayscale one its
    gray values (8 or 16 bit). A colour image is accepted only if its
    channels are equal (a gray map saved as RGB); colour-coded labels are an
    error naming the file.
    """
    check_file(path, 'annotation')
    try:
        with Image.open(path) as image:
            mode = image.mode
            values = np.asarray(image)
    except (OSError, ValueError, SyntaxError) as error:  # Pillow's decoding errors
        raise ValueError(f'cannot decode image file {path}: {error}') from None
    if values.ndim == 3:
        if not (values == values[..., :1]).all():
            raise ValueError(
                f'expected a single-channel label map in {path}, got a {mode} image with '
                f'{values.shape[2]} different channels; store class indices as a grayscale '
                'or palette PNG')
        values = values[..., 0]
    if values.dtype == bool:  # 1-bit PNG
        values = values.astype(np.uint8)
    return values


def read_label_png(path: str, num_classes: int, reduce_zero_label: bool = False) -> np.ndarray:
    """Class map (H, W) uint8 with 255 = ignore.

    Args:
        path: PNG file storing class indices (grayscale or palette, see
            :func:`read_index_png`).
        num_classes: Valid labels are ``[0, num_classes)`` (after reduction).
        reduce_zero_label: NYUD convention: raw 0 is unlabeled (-> 255) and
            raw ``k`` is class ``k - 1``.
    """
    raw = read_index_png(path).astype(np.int64)
    if reduce_zero_label:
        label = raw - 1
        label[raw == 0] = IGNORE_INDEX
    else:
        label = raw
    check_label_range(label, num_classes, path)
    return label.astype(np.uint8)


def _binarise(values: np.ndarray, threshold: float) -> np.ndarray:
    return (values > threshold).astype(np.uint8)


def read_binary_png(path: str, threshold: float = 0.) -> np.ndarray:
    """(H, W) uint8 {0, 1}: stored values (:func:`read_index_png`) above ``threshold`` are 1."""
    return _binarise(read_index_png(path), threshold)


def read_binary_npy(path: str, threshold: float = 0.) -> np.ndarray:
    """(H, W) uint8 {0, 1} from a numpy array (values above ``threshold``)."""
    values = np.squeeze(_load_npy(path))
    if values.ndim != 2:
        raise ValueError(f'expected a 2-D map in {path}, got shape {values.shape}')
    if not np.isfinite(values).all():
        raise ValueError(f'non-finite values (NaN/inf) in {path}')
    return _binarise(values, threshold)


def read_depth_npy(path: str) -> np.ndarray:
    """Depth (H, W) float32 metres; 0 marks invalid pixels."""
    depth = np.squeeze(_load_npy(path)).astype(np.float32)
    if depth.ndim != 2:
        raise ValueError(f'expected a 2-D depth map in {path}, got shape {depth.shape}')
    if not np.isfinite(depth).all():
        count = int((~np.isfinite(depth)).sum())
        raise ValueError(f'depth map {path} has {count} non-finite values (NaN or '
                         'inf); mark invalid depth with 0')
    if (depth < 0).any():
        raise ValueError(f'depth map {path} has negative values')
    return depth


def check_normals(normal: np.ndarray, path: str) -> np.ndarray:
    """Normals (H, W, 3) float32, values kept as decoded.

    As in the reference loaders, no pixel is dropped or rescaled here: the
    only ignore marker is the zero vector (a pixel outside
    ``normal_valid_labels`` on PASCAL, or stored as 0 in a ``.npy``), which
    losses and metrics leave out; they normalise the vectors themselves.
    """
    if normal.ndim != 3 or normal.shape[2] != 3:
        raise ValueError(f'expected an (H, W, 3) normal map in {path}, '
                         f'got shape {normal.shape}')
    if not np.isfinite(normal).all():
        raise ValueError(f'normal map {path} has non-finite values (NaN or inf)')
    return normal.astype(np.float32)


def read_normal_png(path: str) -> np.ndarray:
    """Normals stored as RGB PNG with ``n = 2 * x / 255 - 1`` (``/ 65535`` for 16 bit).

    An 8-bit value never decodes to 0, so every pixel of a PNG is a valid
    normal (a gray 127/128 pixel is a short vector pointing somewhere).
    """
    image = imread_unchanged(path)
    if image.ndim != 3 or image.shape[2] < 3:
        raise ValueError(f'expected a 3-channel normal image in {path}, got '
                         f'shape {image.shape}')
    rgb = image[..., 2::-1].astype(np.float32)  # BGR(A) -> RGB
    scale = 65535. if image.dtype == np.uint16 else 255.
    return check_normals(2. * rgb / scale - 1., path)


def read_normal_npy(path: str) -> np.ndarray:
    """Normals stored as float (H, W, 3) in [-1, 1]; the zero vector is invalid."""
    return check_normals(_load_npy(path), path)


def read_context_labelmap(path: str) -> np.ndarray:
    """PASCAL-Context ``LabelMap`` (H, W) int64 from ``trainval/<id>.mat``."""
    mat = load_mat(path)
    if 'LabelMap' not in mat:
        raise KeyError(f"key 'LabelMap' missing in {path}")
    return np.asarray(mat['LabelMap']).astype(np.int64)


def labelmap_to_edge(label_map: np.ndarray) -> np.ndarray:
    """Edges (H, W) uint8 {0, 1} of a PASCAL-Context ``LabelMap``.

    The derivation of the reference loaders (ASTMT, MTI-Net, ATRC, InvPT):
    pixels where the Laplacian of the label map (``cv2.Laplacian``, 3x3
    4-neighbour kernel, OpenCV's default mirrored border) is non-zero, thinned
    with ``skimage.morphology.thin`` (MATLAB's ``bwmorph(.., 'thin', inf)``).
    """
    laplacian = cv2.Laplacian(np.asarray(label_map, dtype=np.float64), cv2.CV_64F)
    return thin(np.abs(laplacian) > 0).astype(np.uint8)


def read_context_edge(path: str) -> np.ndarray:
    """Edges derived from the ``LabelMap`` of a PASCAL-Context ``.mat`` file."""
    return labelmap_to_edge(read_context_labelmap(path))


def read_human_parts_mat(path: str, shape: Optional[Sequence[int]] = None,
                         part_ids: Optional[Dict[str, int]] = None) -> np.ndarray:
    """Human parts (H, W) uint8 from a PASCAL-Part ``anno`` structure.

    ``anno.objects`` holds one record per object (class name, class index,
    instance mask, parts); each part is (part name, mask). Pixels of persons'
    parts get their merged part id, every other pixel 0 (background). An image
    without any person with parts is all ignore (255).

    Args:
        path: ``human_parts/<id>.mat``.
        shape: (H, W) of the image, used for images without persons.
        part_ids: Part name -> merged id; defaults to :data:`HUMAN_PART_IDS`.
    """
    part_ids = HUMAN_PART_IDS if part_ids is None else part_ids
    mat = load_mat(path)
    if 'anno' not in mat:
        raise KeyError(f"key 'anno' missing in human-parts file {path}")
    try:
        objects = mat['anno'][0, 0][1]
        objects = objects[0] if objects.size else []
        target = None
        for obj in objects:
            class_index = int(np.asarray(obj[1]).reshape(-1)[0])
            parts = obj[3]
            if class_index != PERSON_CLASS_INDEX or parts.size == 0:
                continue
            if target is None:
                target = np.zeros(np.asarray(obj[2]).shape, dtype=np.uint8)
            for part in parts[0]:
                name = str(np.asarray(part[0]).reshape(-1)[0])
                if name not in part_ids:
                    raise ValueError(f'unknown human part {name!r} in {path}; '
                                     f'known parts: {sorted(part_ids)}')
                target[np.asarray(part[1]).astype(bool)] = part_ids[name]
    except (IndexError, TypeError, AttributeError) as error:
        raise ValueError(f'malformed PASCAL-Part annotation in {path}: {error}') from None
    if target is None:
        if shape is None:
            raise ValueError(f'{path} has no person; pass the image shape')
        return np.full(tuple(shape[:2]), IGNORE_INDEX, dtype=np.uint8)
    return target


def mask_normals_by_labels(normal: np.ndarray, label_map: np.ndarray,
                           valid_labels: Sequence[int], path: str) -> np.ndarray:
    """Zero the normals of pixels whose context label is not in ``valid_labels``."""
    if label_map.shape != normal.shape[:2]:
        raise ValueError(f'LabelMap {path} has shape {label_map.shape}, the normal '
                         f'map {normal.shape[:2]}')
    valid = np.isin(label_map, np.asarray(valid_labels))
    return np.where(valid[..., None], normal, 0).astype(np.float32)


READERS: Dict[str, Callable[..., np.ndarray]] = {
    'label_png': read_label_png,
    'binary_png': read_binary_png,
    'binary_npy': read_binary_npy,
    'depth_npy': read_depth_npy,
    'normal_png': read_normal_png,
    'normal_npy': read_normal_npy,
    'context_edge_mat': read_context_edge,
    'human_parts_mat': read_human_parts_mat,
}
