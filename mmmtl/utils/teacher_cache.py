"""On-disk cache of a frozen teacher's outputs on a training split (offline KDAM).

Layout of a cache directory (written by ``tools/distill/cache_teacher.py``)::

    DIR/manifest.json              what the cache is of (see :func:`make_manifest`)
    DIR/entries/<sample_id>.npy    one (h, w, C) array per image: the channels of
                                   every cached output concatenated in manifest order

One ``.npy`` per image because it is the plainest format numpy reads: a
header and the raw array, nothing to decode, one read per image for a
data-loader worker (and memory-mappable, ``np.load(mmap_mode='r')``, for
tools that look at part of it); a file is written
to a temporary name, ``fsync``-ed and renamed, so an entry that exists is
whole (the rename is atomic on POSIX file systems); a crash leaves at most a
``*.partial-<pid>`` file, which readers never open (safe to delete).
Channels last, because the data pipeline's arrays are (H, W, C).
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

MANIFEST_NAME = 'manifest.json'
ENTRIES_DIR = 'entries'
FORMAT = 'mmmtl-teacher-cache'
FORMAT_VERSION = 1
DTYPES = ('float16', 'float32')
# Keys of a sample (pipeline results and data sample meta), see LoadTeacherOutputs:
# the stored outputs and where each pixel samples them (a SamplingGrid).
OUTPUTS_KEY = 'teacher_outputs'
GRID_KEY = 'teacher_grid'


def sha256_file(path: str, chunk_bytes: int = 1 << 24) -> str:
    """Hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(chunk_bytes), b''):
            digest.update(chunk)
    return digest.hexdigest()


def config_sha256(cfg: dict) -> str:
    """Hex SHA-256 of a (model) config dict, independent of key order."""
    text = json.dumps(cfg, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def output_name(task: str, aux: Optional[str] = None) -> str:
    """Name of a cached output: ``task``, or ``<aux>.<task>`` for an auxiliary one."""
    return task if aux is None else f'{aux}.{task}'


def stored_size(height: int, width: int, scale: float) -> Tuple[int, int]:
    """(h, w) at which an image of (height, width) is stored for ``scale``."""
    return max(1, int(height * scale + 0.5)), max(1, int(width * scale + 0.5))


def make_manifest(*, teacher: dict, dataset_type: str, data_root: str, split: str,
                  samples: Dict[str, str], tasks: Sequence[str],
                  outputs: Sequence[Tuple[str, int]], scale: float, dtype: str,
                  view: dict) -> dict:
    """The manifest of a cache, as it reads back from JSON.

    Args:
        teacher: ``dict(config, config_sha256, checkpoint, checkpoint_sha256)``.
        samples: ``{sample_id: image path relative to data_root}``.
        outputs: ``(output name, channels)`` in channel order.
        view: How the teacher saw each image (pipeline, padding, resizing).
    """
    if dtype not in DTYPES:
        raise ValueError(f'teacher cache: dtype must be one of {DTYPES}, got {dtype!r}.')
    if not 0 < scale <= 1:
        raise ValueError(f'teacher cache: scale must be in (0, 1], got {scale}.')
    manifest = dict(
        format=FORMAT, version=FORMAT_VERSION, teacher=teacher,
        dataset=dict(type=dataset_type, data_root=osp.abspath(data_root), split=split,
                     num_images=len(samples), samples=dict(samples)),
        tasks=list(tasks),
        outputs=[dict(name=name, channels=int(channels)) for name, channels in outputs],
        scale=float(scale), dtype=dtype, layout='HWC', view=view, complete=False)
    return json.loads(json.dumps(manifest, default=repr))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write(path: str, write) -> None:
    """``write(handle)`` into ``path.partial-<pid>``, fsync, rename to ``path``."""
    partial = f'{path}.partial-{os.getpid()}'
    with open(partial, 'wb') as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)


def write_manifest(root: str, manifest: dict) -> None:
    os.makedirs(root, exist_ok=True)
    _atomic_write(osp.join(root, MANIFEST_NAME),
                  lambda h: h.write(json.dumps(manifest, indent=1).encode()))
    _fsync_dir(root)


def read_manifest(root: str) -> dict:
    """The manifest of the cache in ``root``; errors name the file."""
    path = osp.join(root, MANIFEST_NAME)
    if not osp.isfile(path):
        raise FileNotFoundError(f'teacher cache {root!r}: no {MANIFEST_NAME} (looked for '
                                f'{osp.abspath(path)}); write the cache with '
                                'tools/distill/cache_teacher.py.')
    try:
        with open(path) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as error:
        raise ValueError(f'teacher cache: cannot read {path}: {error}') from error
    if manifest.get('format') != FORMAT or manifest.get('version') != FORMAT_VERSION:
        raise ValueError(f'teacher cache: {path} is not a {FORMAT} manifest of version '
                         f'{FORMAT_VERSION} (format {manifest.get("format")!r}, version '
                         f'{manifest.get("version")!r}).')
    return manifest


def manifest_differences(manifest: dict, expected: dict, prefix: str = '') -> List[str]:
    """``'key: cache has A, the run has B'`` for every key of ``expected`` that differs.

    ``expected`` is a (nested) subset of a manifest; keys absent from it are
    not compared.
    """
    differences = []
    for key, want in expected.items():
        have = manifest.get(key) if isinstance(manifest, dict) else None
        name = f'{prefix}{key}'
        if isinstance(want, dict) and isinstance(have, dict):
            differences += manifest_differences(have, want, name + '.')
        elif have != want:
            differences.append(f'{name}: the cache has {have!r}, the run has {want!r}')
    return differences


class TeacherCache:
    """Read access to a teacher cache directory.

    Args:
        root: The cache directory (holding ``manifest.json``).
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self.manifest = read_manifest(root)
        self.dtype = np.dtype(self.manifest['dtype'])
        self.slices: Dict[str, slice] = {}
        start = 0
        for output in self.manifest['outputs']:
            self.slices[output['name']] = slice(start, start + output['channels'])
            start += output['channels']
        self.num_channels = start

    @property
    def samples(self) -> Dict[str, str]:
        return self.manifest['dataset']['samples']

    def entry_path(self, sample_id: str) -> str:
        return entry_path(self.root, sample_id)

    def missing(self) -> List[str]:
        """Sample ids of the manifest without an entry."""
        return [sid for sid in self.samples if not osp.isfile(self.entry_path(sid))]

    def read_array(self, sample_id: str, img_path: Optional[str] = None) -> np.ndarray:
        """The (h, w, C) entry of one image, read whole.

        A sample that is not in the cache, a missing or unreadable entry or
        one of the wrong channels or dtype raises an error naming the image.
        """
        what = f'image {img_path or sample_id!r} (sample {sample_id!r})'
        if sample_id not in self.samples:
            raise KeyError(f'teacher cache {self.root!r} has no {what}: it caches split '
                           f"{self.manifest['dataset']['split']!r} of "
                           f"{self.manifest['dataset']['data_root']!r}.")
        path = self.entry_path(sample_id)
        if not osp.isfile(path):
            raise FileNotFoundError(f'teacher cache {self.root!r}: no entry {path} for {what}; '
                                    'finish the cache with tools/distill/cache_teacher.py (it '
                                    'resumes).')
        try:
            array = np.load(path)
        except (OSError, ValueError) as error:
            raise ValueError(f'teacher cache: entry {path} of {what} is unreadable: '
                             f'{error}') from error
        if array.ndim != 3 or array.shape[2] != self.num_channels or array.dtype != self.dtype:
            raise ValueError(f'teacher cache: entry {path} of {what} has shape {array.shape} '
                             f'and dtype {array.dtype}; the manifest says (h, w, '
                             f'{self.num_channels}) {self.dtype}.')
        return array


def entry_path(root: str, sample_id: str) -> str:
    return osp.join(root, ENTRIES_DIR, f'{sample_id}.npy')


def write_entry(root: str, sample_id: str, outputs: Sequence[np.ndarray], dtype: str) -> None:
    """Write one image's (h, w, C_i) outputs, concatenated on channels, atomically."""
    path = entry_path(root, sample_id)
    os.makedirs(osp.dirname(path), exist_ok=True)
    array = np.ascontiguousarray(np.concatenate(outputs, axis=2).astype(dtype))
    _atomic_write(path, lambda handle: np.save(handle, array))
