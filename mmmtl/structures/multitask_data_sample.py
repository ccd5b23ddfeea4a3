from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmmtl.tasks import TASK_SPECS


def _make_property(key: str, doc: str) -> property:

    def getter(self):
        return getattr(self, f'_{key}')

    def setter(self, value: PixelData):
        self.set_field(value, f'_{key}', dtype=PixelData)

    def deleter(self):
        del self[f'_{key}']

    return property(getter, setter, deleter, doc=doc)


class MultiTaskDataSample(SegDataSample):
    """A :class:`SegDataSample` that carries one ``PixelData`` per task.

    Ground truth fields (each ``PixelData.data`` is a tensor of shape
    ``(C, H, W)``):

    - ``gt_sem_seg`` (1, H, W) int64 classes, 255 = ignore.
    - ``gt_depth`` (1, H, W) float32 metres, 0 = invalid.
    - ``gt_normal`` (3, H, W) float32 unit vectors, zero vector = invalid.
    - ``gt_edge`` (1, H, W) int64 {0, 1}, 255 = ignore.
    - ``gt_human_parts`` (1, H, W) int64 parts, 255 = ignore.
    - ``gt_saliency`` (1, H, W) int64 {0, 1}, 255 = ignore.

    Predictions use the same names with ``pred_``: class maps (1, H, W)
    int64 for label tasks, the depth map (1, H, W) >= 0, unit normals
    (3, H, W), and probabilities (1, H, W) in [0, 1] for edge and saliency.
    """


for _spec in TASK_SPECS.values():
    for _key in (_spec.gt_key, _spec.pred_key):
        if _key not in ('gt_sem_seg', 'pred_sem_seg'):  # SegDataSample has them
            setattr(MultiTaskDataSample, _key,
                    _make_property(_key, f'PixelData of task {_spec.name!r}.'))
