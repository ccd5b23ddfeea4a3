"""Synthetic multi-task datasets written in the exact layouts of the real data.

Every sample is a small room rendered with a pinhole camera: a floor, a
ceiling, a back wall and two side walls (planes), boxes standing on the floor
and spheres. Because the geometry is known, every ground truth is exact and
consistent with the image:

- depth: the z coordinate (metres) of the first surface hit by each ray,
- normals: the surface normal in camera coordinates (x right, y down, z
  forward) pointing towards the camera,
- semantic classes: one class per surface / object,
- edges: 1-pixel boundaries where the surface id changes (class or depth
  discontinuities),
- the image: a colour per class (plus per-scene jitter), a texture per class,
  Lambertian shading and noise, so every task is learnable from the image.

The PASCAL layout adds a person made of parts (head, torso, arms, legs) and a
saliency mask (every object that is not part of the room).

``make_synthetic_dataset`` is used by ``tools/misc/make_synthetic_dataset.py``
and by the test fixtures in ``tests/conftest.py``.
"""
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

LAYOUTS = ('nyud', 'nyud_mt', 'pascal')
# 'easy': the original scenes. 'hard': also small occluding objects, thin
# poles and shelves, a person in NYUD scenes, a random texture per surface
# and scene, stronger colour jitter and noise (see ``render_scene``).
DIFFICULTIES = ('easy', 'hard')

# NYUD-v2 40-class indices (0-based, see ``nyud_mtl.NYUD_CLASSES``).
NYUD_WALL, NYUD_FLOOR, NYUD_CHAIR, NYUD_SOFA, NYUD_TABLE = 0, 1, 4, 5, 6
NYUD_PICTURE, NYUD_CEILING, NYUD_TELEVISION, NYUD_PERSON = 10, 21, 24, 30
NYUD_LAMP, NYUD_OTHERPROP = 34, 39

# PASCAL VOC 21-class indices and the matching PASCAL-Context (459) labels.
VOC_BACKGROUND, VOC_BOTTLE, VOC_CHAIR, VOC_TABLE = 0, 5, 9, 11
VOC_PERSON, VOC_PLANT, VOC_SOFA, VOC_TV = 15, 16, 18, 20
CONTEXT_LABELS = dict(
    wall=440, floor=158, ceiling=68, chair=72, table=397, sofa=368,
    tvmonitor=427, bottle=34, pottedplant=308, person=284, picture=287)

# Part names of the PASCAL-Part annotation used for the synthetic person.
PERSON_PART_NAMES = ('head', 'torso', 'luarm', 'ruarm', 'llarm', 'rlarm',
                     'luleg', 'ruleg', 'llleg', 'rlleg')


@dataclass
class Surface:
    """One rendered surface: its semantic identity and its ground truth."""
    name: str  # context-style name, e.g. 'wall', 'chair'
    nyud_class: int
    voc_class: int
    context_label: int
    salient: bool = False
    part: Optional[str] = None  # PASCAL-Part name for person parts
    instance: int = -1  # object instance for human-part .mat files


@dataclass
class Scene:
    """Rendered ground truth of one scene, all maps of shape (H, W)."""
    image: np.ndarray  # (H, W, 3) uint8 RGB
    depth: np.ndarray  # (H, W) float32 metres
    normal: np.ndarray  # (H, W, 3) float32 unit vectors
    surface_id: np.ndarray  # (H, W) int32 index into ``surfaces``
    surfaces: List[Surface] = field(default_factory=list)

    def lookup(self, attr: str) -> np.ndarray:
        """Map every pixel to ``getattr(surface, attr)``."""
        table = np.array([getattr(s, attr) for s in self.surfaces])
        return table[self.surface_id]

    def edge(self) -> np.ndarray:
        """(H, W) uint8 {0, 1}: 1-pixel edges where the surface id changes."""
        return boundary_map(self.surface_id)


def boundary_map(label_map: np.ndarray) -> np.ndarray:
    """1-pixel boundaries of a label map.

    A pixel is an edge if its right or bottom neighbour carries another label,
    so each boundary between two regions is exactly one pixel thick.

    Args:
        label_map: (H, W) integer map.

    Returns:
        (H, W) uint8 map in {0, 1}.
    """
    edge = np.zeros(label_map.shape, dtype=bool)
    edge[:, :-1] |= label_map[:, :-1] != label_map[:, 1:]
    edge[:-1, :] |= label_map[:-1, :] != label_map[1:, :]
    return edge.astype(np.uint8)


class _Renderer:
    """Ray caster of planes, axis-aligned boxes and spheres.

    Camera coordinates: x right, y down, z forward; pixel (u, v) looks along
    ``((u - cx) / f, (v - cy) / f, 1)`` so the ray parameter is the depth.
    """

    def __init__(self, height: int, width: int, focal: float):
        v, u = np.mgrid[0:height, 0:width].astype(np.float64)
        self.rays = np.stack([(u + 0.5 - width / 2) / focal,
                              (v + 0.5 - height / 2) / focal,
                              np.ones_like(u)], axis=-1)  # (H, W, 3)
        self.depth = np.full((height, width), np.inf)
        self.normal = np.zeros((height, width, 3))
        self.surface_id = np.full((height, width), -1, dtype=np.int32)
        self.surfaces: List[Surface] = []

    def _commit(self, t: np.ndarray, normal: np.ndarray,
                surface: Surface) -> None:
        closer = np.isfinite(t) & (t > 1e-6) & (t < self.depth)
        self.depth[closer] = t[closer]
        self.normal[closer] = np.broadcast_to(normal, t.shape + (3, ))[closer]
        self.surface_id[closer] = len(self.surfaces)
        self.surfaces.append(surface)

    def plane(self, normal: Sequence[float], offset: float,
              surface: Surface, mask_fn=None) -> None:
        """Plane ``n . p = offset``; ``n`` must face the camera."""
        n = np.asarray(normal, dtype=np.float64)
        with np.errstate(divide='ignore', invalid='ignore'):
            t = offset / (self.rays @ n)
        t[t <= 0] = np.inf
        if mask_fn is not None:
            points = self.rays * t[..., None]
            t[~mask_fn(points)] = np.inf
        self._commit(t, n, surface)

    def box(self, lo: Sequence[float], hi: Sequence[float],
            surface: Surface) -> None:
        """Axis-aligned box between corners ``lo`` and ``hi`` (slab method)."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        with np.errstate(divide='ignore', invalid='ignore'):
            inv = 1.0 / self.rays
            t0, t1 = lo * inv, hi * inv
        t_near = np.minimum(t0, t1)
        t_far = np.maximum(t0, t1)
        t_near = np.nan_to_num(t_near, nan=-np.inf)
        t_far = np.nan_to_num(t_far, nan=np.inf)
        entry_axis = np.argmax(t_near, axis=-1)
        t_enter = np.max(t_near, axis=-1)
        t_exit = np.min(t_far, axis=-1)
        hit = (t_enter <= t_exit) & (t_enter > 0)
        t = np.where(hit, t_enter, np.inf)
        normal = np.zeros(self.rays.shape)
        # The entry face's normal points against the ray direction.
        sign = -np.sign(np.take_along_axis(self.rays, entry_axis[..., None], -1))
        np.put_along_axis(normal, entry_axis[..., None], sign, axis=-1)
        self._commit(t, normal, surface)

    def sphere(self, center: Sequence[float], radius: float,
               surface: Surface) -> None:
        c = np.asarray(center, float)
        a = np.einsum('hwc,hwc->hw', self.rays, self.rays)
        b = -2 * self.rays @ c
        disc = b * b - 4 * a * (c @ c - radius**2)
        with np.errstate(invalid='ignore'):
            t = (-b - np.sqrt(disc)) / (2 * a)
        t[~(disc > 0)] = np.inf
        points = self.rays * np.where(np.isfinite(t), t, 0)[..., None]
        normal = (points - c) / radius
        self._commit(t, normal, surface)


def _room_surface(name: str, nyud: int) -> Surface:
    return Surface(name, nyud, VOC_BACKGROUND, CONTEXT_LABELS[name])


_OBJECTS = dict(
    chair=(NYUD_CHAIR, VOC_CHAIR), table=(NYUD_TABLE, VOC_TABLE),
    sofa=(NYUD_SOFA, VOC_SOFA), tvmonitor=(NYUD_TELEVISION, VOC_TV),
    bottle=(NYUD_LAMP, VOC_BOTTLE), pottedplant=(NYUD_OTHERPROP, VOC_PLANT))

# Base colours (RGB) per surface name; each scene jitters them slightly.
_COLOURS = dict(
    wall=(200, 190, 170), floor=(120, 85, 60), ceiling=(235, 235, 230),
    picture=(60, 110, 170), chair=(180, 40, 40), table=(150, 110, 50),
    sofa=(60, 140, 70), tvmonitor=(30, 30, 35), bottle=(220, 200, 40),
    pottedplant=(40, 170, 90), person=(230, 170, 140))
# Texture kind per surface: 0 flat, 1 horizontal stripes, 2 checker, 3 dots.
_TEXTURES = dict(wall=0, floor=2, ceiling=0, picture=3, chair=1, table=1,
                 sofa=3, tvmonitor=0, bottle=0, pottedplant=3, person=0)
_PART_COLOURS = dict(head=(235, 190, 160), torso=(60, 60, 170),
                     uarm=(90, 90, 200), larm=(235, 180, 150),
                     uleg=(50, 50, 60), lleg=(80, 70, 60))


def _object(name: str, instance: int, part: Optional[str] = None) -> Surface:
    if name == 'person':
        return Surface('person', NYUD_PERSON, VOC_PERSON, CONTEXT_LABELS['person'],
                       salient=True, part=part, instance=instance)
    nyud, voc = _OBJECTS[name]
    return Surface(name, nyud, voc, CONTEXT_LABELS[name], salient=True,
                   instance=instance)


def _add_person(r: _Renderer, rng: np.random.Generator, floor_y: float,
                x: float, z: float, instance: int) -> None:
    """A standing person (about 1.6 m) built from boxes and a sphere."""
    s = rng.uniform(0.85, 1.05)
    hip_y = floor_y - 0.8 * s
    knee_y = floor_y - 0.42 * s
    shoulder_y = floor_y - 1.38 * s
    elbow_y = shoulder_y + 0.3 * s
    hand_y = elbow_y + 0.28 * s
    d = 0.1 * s  # half thickness of limbs in z
    for side, sx in (('l', 1), ('r', -1)):
        # The person faces the camera, so its left is on the image right.
        leg_x = x + sx * 0.1 * s
        r.box((leg_x - 0.07 * s, hip_y, z - d), (leg_x + 0.07 * s, knee_y, z + d),
              _object('person', instance, f'{side}uleg'))
        r.box((leg_x - 0.06 * s, knee_y, z - d), (leg_x + 0.06 * s, floor_y, z + d),
              _object('person', instance, f'{side}lleg'))
        arm_x = x + sx * 0.26 * s
        r.box((arm_x - 0.05 * s, shoulder_y, z - d * 0.8),
              (arm_x + 0.05 * s, elbow_y, z + d * 0.8),
              _object('person', instance, f'{side}uarm'))
        r.box((arm_x - 0.045 * s, elbow_y, z - d * 0.8),
              (arm_x + 0.045 * s, hand_y, z + d * 0.8),
              _object('person', instance, f'{side}larm'))
    r.box((x - 0.2 * s, shoulder_y, z - 0.12 * s), (x + 0.2 * s, hip_y, z + 0.12 * s),
          _object('person', instance, 'torso'))
    r.sphere((x, shoulder_y - 0.14 * s, z), 0.12 * s,
             _object('person', instance, 'head'))


def render_scene(rng: np.random.Generator, size: Tuple[int, int],
                 with_person: bool = False, difficulty: str = 'easy') -> Scene:
    """Render one random room.

    Args:
        rng: Source of randomness (the scene is a function of its state).
        size: (H, W) of the image.
        with_person: Put a person with parts into the scene (PASCAL layout).
        difficulty: ``'easy'`` (the original scenes; the random stream and
            the output are unchanged) or ``'hard'``: after the easy scene's
            objects, 2-4 small boxes and spheres in front of them (occlusion,
            small parts), 1-3 thin poles (lamps) and a thin shelf on a wall
            (fine structures), a person in half of the scenes, a random
            texture per surface and scene, stronger per-surface colour jitter
            and image noise. The geometry stays exact: every label still
            comes from the ray caster.

    Returns:
        The rendered :class:`Scene`.
    """
    height, width = size
    r = _Renderer(height, width, focal=0.85 * width)
    cam_height = rng.uniform(1.2, 1.6)
    floor_y, ceil_y = cam_height, cam_height - rng.uniform(2.5, 3.0)
    back_z = rng.uniform(4.5, 6.5)
    left_x, right_x = -rng.uniform(2.0, 3.0), rng.uniform(2.0, 3.0)
    # Planes: normals face the camera (n . ray < 0 for visible points).
    r.plane((0, -1, 0), -floor_y, _room_surface('floor', NYUD_FLOOR))
    r.plane((0, 1, 0), ceil_y, _room_surface('ceiling', NYUD_CEILING))
    r.plane((0, 0, -1), -back_z, _room_surface('wall', NYUD_WALL))
    r.plane((1, 0, 0), left_x, _room_surface('wall', NYUD_WALL))
    r.plane((-1, 0, 0), -right_x, _room_surface('wall', NYUD_WALL))
    # A picture hanging on the back wall: same depth, different class.
    px, py = rng.uniform(-1.2, 0.6), rng.uniform(ceil_y + 0.5, ceil_y + 1.0)
    pw, ph = rng.uniform(0.6, 1.2), rng.uniform(0.4, 0.8)
    r.plane((0, 0, -1), -(back_z - 1e-3),
            Surface('picture', NYUD_PICTURE, VOC_BACKGROUND, CONTEXT_LABELS['picture']),
            mask_fn=lambda p: ((p[..., 0] > px) & (p[..., 0] < px + pw)
                               & (p[..., 1] > py) & (p[..., 1] < py + ph)))

    instance = 0
    for _ in range(rng.integers(2, 4)):
        name = rng.choice(['chair', 'table', 'sofa'])
        x = rng.uniform(left_x + 0.6, right_x - 0.6)
        z = rng.uniform(2.2, back_z - 0.8)
        w, d = rng.uniform(0.4, 1.0), rng.uniform(0.4, 0.9)
        h = dict(chair=0.9, table=0.75, sofa=0.8)[name] * rng.uniform(0.8, 1.2)
        r.box((x - w / 2, floor_y - h, z - d / 2), (x + w / 2, floor_y, z + d / 2),
              _object(name, instance))
        instance += 1
        if name == 'table' and rng.random() < 0.6:
            tw = rng.uniform(0.25, 0.4)
            r.box((x - tw, floor_y - h - 0.3, z - 0.05), (x + tw, floor_y - h, z + 0.05),
                  _object('tvmonitor', instance))
            instance += 1
    for _ in range(rng.integers(1, 3)):
        name = rng.choice(['bottle', 'pottedplant'])
        radius = rng.uniform(0.15, 0.3)
        x = rng.uniform(left_x + 0.5, right_x - 0.5)
        z = rng.uniform(2.0, back_z - 0.5)
        r.sphere((x, floor_y - radius, z), radius, _object(name, instance))
        instance += 1
    if with_person:
        _add_person(r, rng, floor_y, x=rng.uniform(-0.8, 0.8),
                    z=rng.uniform(1.8, 2.6), instance=instance)
        instance += 1
    if difficulty == 'hard':
        _add_hard_objects(r, rng, floor_y, ceil_y, left_x, right_x, back_z, instance,
                          with_person)

    scene = Scene(image=np.zeros((height, width, 3), np.uint8),
                  depth=r.depth.astype(np.float32),
                  normal=r.normal.astype(np.float32),
                  surface_id=r.surface_id, surfaces=r.surfaces)
    if (scene.surface_id < 0).any() or not np.isfinite(scene.depth).all():
        raise RuntimeError('synthetic renderer left a pixel without a surface')
    scene.image = _shade(scene, r.rays, rng, hard=difficulty == 'hard')
    return scene


def _add_hard_objects(r: _Renderer, rng: np.random.Generator, floor_y: float, ceil_y: float,
                      left_x: float, right_x: float, back_z: float, instance: int,
                      has_person: bool) -> None:
    """The extra content of ``difficulty='hard'`` (see :func:`render_scene`)."""
    # Small objects close to the camera, in front of the furniture.
    for _ in range(rng.integers(2, 5)):
        name = rng.choice(['chair', 'tvmonitor', 'bottle', 'pottedplant', 'table'])
        x = rng.uniform(left_x + 0.4, right_x - 0.4)
        z = rng.uniform(1.3, 2.4)
        size = rng.uniform(0.1, 0.3)
        if name in ('bottle', 'pottedplant'):
            r.sphere((x, floor_y - size, z), size, _object(name, instance))
        else:
            lift = rng.uniform(0.0, 0.6)  # resting on something or on the floor
            r.box((x - size, floor_y - lift - 2 * size, z - size),
                  (x + size, floor_y - lift, z + size), _object(name, instance))
        instance += 1
    # Thin poles (standing lamps): a few pixels wide.
    for _ in range(rng.integers(1, 4)):
        x = rng.uniform(left_x + 0.3, right_x - 0.3)
        z = rng.uniform(1.8, back_z - 0.3)
        half = rng.uniform(0.015, 0.04)
        r.box((x - half, floor_y - rng.uniform(1.2, 1.8), z - half),
              (x + half, floor_y, z + half), _object('bottle', instance))
        instance += 1
    # A thin shelf on the back wall.
    sx, sy = rng.uniform(-1.5, 0.5), rng.uniform(ceil_y + 1.2, floor_y - 1.0)
    r.box((sx, sy, back_z - 0.25), (sx + rng.uniform(0.6, 1.4), sy + 0.04, back_z - 1e-3),
          _object('table', instance))
    instance += 1
    if not has_person and rng.random() < 0.5:
        _add_person(r, rng, floor_y, x=rng.uniform(-1.0, 1.0), z=rng.uniform(2.0, 3.2),
                    instance=instance)


def _shade(scene: Scene, rays: np.ndarray, rng: np.random.Generator,
           hard: bool = False) -> np.ndarray:
    """Colour x texture x Lambertian shading + noise, (H, W, 3) uint8 RGB."""
    height, width = scene.depth.shape
    colours, textures = [], []
    jitter = rng.normal(0, 10, size=3)
    for s in scene.surfaces:
        if s.part is not None:
            base = _PART_COLOURS[s.part[1:] if s.part[0] in 'lr' else s.part]
        else:
            base = _COLOURS[s.name]
        colour = np.asarray(base, float) + jitter
        if hard:  # per-surface jitter: colour alone no longer names the class
            colour = colour + rng.normal(0, 30, size=3)
        colours.append(np.clip(colour, 0, 255))
        textures.append(int(rng.integers(0, 4)) if hard else
                        _TEXTURES['person' if s.part else s.name])
    colour = np.asarray(colours)[scene.surface_id]  # (H, W, 3)
    texture_kind = np.asarray(textures)[scene.surface_id]
    points = rays * scene.depth[..., None].astype(np.float64)
    # Textures in world units so they stay attached to the surfaces.
    px, py, pz = points[..., 0], points[..., 1], points[..., 2]
    stripes = 0.85 + 0.15 * (np.floor(py * 8) % 2)
    checker = 0.8 + 0.2 * ((np.floor(px * 3) + np.floor(pz * 3)) % 2)
    dots = 0.85 + 0.15 * (np.sin(px * 20) * np.sin(py * 20 + pz * 20) > 0.3)
    pattern = np.select([texture_kind == 1, texture_kind == 2, texture_kind == 3],
                        [stripes, checker, dots], 1.0)
    light = np.array([0.4, -0.8, -0.45])
    light /= np.linalg.norm(light)
    lambert = np.clip(scene.normal @ light, 0, 1)
    shading = 0.45 + 0.55 * lambert
    attenuation = 1.0 / (1.0 + 0.04 * scene.depth)
    image = colour * (pattern * shading * attenuation)[..., None]
    image += rng.normal(0, 12 if hard else 4, size=(height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------
# Writers of the real layouts
# ----------------------------------------------------------------------------


def _imwrite(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f'could not write {path}')


def _rgb_to_bgr(image: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(image[..., ::-1])


def _normal_to_png(normal: np.ndarray) -> np.ndarray:
    """Unit normals (H, W, 3) -> uint8 with ``n = 2 * x / 255 - 1``, BGR order."""
    encoded = np.round((normal + 1) * 127.5).clip(0, 255).astype(np.uint8)
    return _rgb_to_bgr(encoded)


def _write_nyud_sample(root: Path, sample_id: str, scene: Scene, layout: str,
                       rng: np.random.Generator) -> None:
    semseg = scene.lookup('nyud_class').astype(np.int64)
    depth = scene.depth.copy()
    # Sensor holes: a small patch of invalid depth and unlabeled pixels.
    if rng.random() < 0.5:
        h, w = depth.shape
        y, x = rng.integers(0, h - 3), rng.integers(0, w - 3)
        depth[y:y + 3, x:x + 3] = 0
        semseg[y:y + 3, x:x + 3] = -1  # stored as raw 0 = unlabeled
    raw_seg = (semseg + 1).astype(np.uint8)  # label - 1 convention, 0 ignore
    edge = scene.edge()
    _imwrite(root / 'segmentation' / f'{sample_id}.png', raw_seg)
    (root / 'depth').mkdir(parents=True, exist_ok=True)
    np.save(root / 'depth' / f'{sample_id}.npy', depth.astype(np.float32))
    if layout == 'nyud':
        _imwrite(root / 'images' / f'{sample_id}.png', _rgb_to_bgr(scene.image))
        _imwrite(root / 'normals' / f'{sample_id}.png', _normal_to_png(scene.normal))
        _imwrite(root / 'edge' / f'{sample_id}.png', edge * 255)
    else:  # nyud_mt
        _imwrite(root / 'images' / f'{sample_id}.jpg', _rgb_to_bgr(scene.image))
        (root / 'normals').mkdir(parents=True, exist_ok=True)
        (root / 'edge').mkdir(parents=True, exist_ok=True)
        np.save(root / 'normals' / f'{sample_id}.npy', scene.normal.astype(np.float32))
        np.save(root / 'edge' / f'{sample_id}.npy', edge.astype(np.float32))


def _savemat(path: Path, variables: dict) -> None:
    """``scipy.io.savemat`` with a fixed header, so the file depends only on
    its content (scipy writes the creation time into the 116-byte header)."""
    from scipy.io import savemat
    buffer = io.BytesIO()
    savemat(buffer, variables, do_compression=True)
    data = bytearray(buffer.getvalue())
    data[:116] = b'MATLAB 5.0 MAT-file, written by mmmtl synthetic data'.ljust(116)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))


def _struct_array(records: List[tuple], names: Sequence[str]) -> np.ndarray:
    """A (1, N) MATLAB struct array for ``scipy.io.savemat``."""
    array = np.empty((1, len(records)), dtype=[(n, 'O') for n in names])
    for i, record in enumerate(records):
        array[0, i] = record
    return array


def _write_pascal_sample(root: Path, sample_id: str, scene: Scene) -> None:
    context = scene.lookup('context_label').astype(np.uint16)
    voc = scene.lookup('voc_class').astype(np.uint8)
    salient = scene.lookup('salient').astype(bool)
    _imwrite(root / 'JPEGImages' / f'{sample_id}.jpg', _rgb_to_bgr(scene.image))
    _imwrite(root / 'semseg' / 'pascal-context' / f'{sample_id}.png', voc)
    _imwrite(root / 'sal_distill' / f'{sample_id}.png', salient.astype(np.uint8) * 255)
    _imwrite(root / 'normals_distill' / f'{sample_id}.png', _normal_to_png(scene.normal))
    _savemat(root / 'pascal-context' / 'trainval' / f'{sample_id}.mat', {'LabelMap': context})

    # PASCAL-Part style annotation: one record per object instance with
    # (class name, class index, instance mask, parts (name, mask)).
    instance_map = scene.lookup('instance')
    objects = []
    for inst in sorted(set(s.instance for s in scene.surfaces if s.instance >= 0)):
        members = [i for i, s in enumerate(scene.surfaces) if s.instance == inst]
        first = scene.surfaces[members[0]]
        mask = (instance_map == inst).astype(np.uint8)
        if not mask.any():
            continue
        parts = np.zeros((0, 0))
        if first.part is not None:
            part_records = []
            for idx in members:
                part_mask = (scene.surface_id == idx).astype(np.uint8)
                if part_mask.any():
                    part_records.append((np.array([scene.surfaces[idx].part]), part_mask))
            if part_records:
                parts = _struct_array(part_records, ('part_name', 'mask'))
        class_name = 'person' if first.part is not None else first.name
        objects.append((np.array([class_name]), np.array([[first.voc_class]], np.uint8),
                        mask, parts))
    objects_array = (_struct_array(objects, ('class', 'class_ind', 'mask', 'parts'))
                     if objects else np.zeros((0, 0)))
    anno = _struct_array([(np.array([sample_id]), objects_array)], ('imname', 'objects'))
    _savemat(root / 'human_parts' / f'{sample_id}.mat', {'anno': anno})


def make_synthetic_dataset(layout: str, out_dir: Union[str, Path], num_train: int = 40,
                           num_val: int = 20, size: Tuple[int, int] = (96, 128),
                           seed: int = 0, num_test: int = 0,
                           difficulty: str = 'easy') -> Path:
    """Write a synthetic dataset in one of the real layouts.

    Args:
        layout: ``'nyud'`` (ATRC/InvPT ``NYUDv2``: png images, png normals and
            edges, npy depth), ``'nyud_mt'`` (MTI-Net ``NYUD_MT``: jpg images,
            npy edges, normals and depth) or ``'pascal'`` (ATRC
            ``PASCAL_MT``).
        out_dir: Dataset root to create.
        num_train: Number of training samples.
        num_val: Number of validation samples.
        size: (H, W) of the images.
        seed: Random seed; the output is a function of all arguments.
        num_test: Number of samples of a third split, ``test`` (rendered
            after train and val, which stay the same as without it; no
            ``test.txt`` is written when 0).
        difficulty: One of :data:`DIFFICULTIES` (see :func:`render_scene`);
            ``'easy'`` is the original data.

    Returns:
        The dataset root.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; choose one of {LAYOUTS}')
    height, width = (int(s) for s in size)
    if height < 16 or width < 16:
        raise ValueError(f'size {size} is too small; use at least 16x16')
    if num_train < 0 or num_val < 0 or num_test < 0:
        raise ValueError('num_train, num_val and num_test must be >= 0')
    if difficulty not in DIFFICULTIES:
        raise ValueError(f'unknown difficulty {difficulty!r}; choose one of {DIFFICULTIES}')
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts = [('train', num_train), ('val', num_val)] + ([('test', num_test)] if num_test else [])
    splits: Dict[str, List[str]] = {split: [] for split, _ in counts}
    for split, count in counts:
        for i in range(count):
            sample_id = f'{split}_{i:05d}'
            # Two of three PASCAL scenes contain a person.
            with_person = layout == 'pascal' and i % 3 != 2
            scene = render_scene(rng, (height, width), with_person=with_person,
                                 difficulty=difficulty)
            if layout == 'pascal':
                _write_pascal_sample(root, sample_id, scene)
            else:
                _write_nyud_sample(root, sample_id, scene, layout, rng)
            splits[split].append(sample_id)
    split_dir = root / ('ImageSets/Context' if layout == 'pascal' else 'gt_sets')
    split_dir.mkdir(parents=True, exist_ok=True)
    for split, ids in splits.items():
        (split_dir / f'{split}.txt').write_text(''.join(f'{i}\n' for i in ids))
    return root
