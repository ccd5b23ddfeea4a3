from .formatting import PackMultiTaskInputs
from .geometric import (
                        MultiTaskPad,
                        MultiTaskRandomCrop,
                        MultiTaskRandomFlip,
                        MultiTaskRandomResize,
                        MultiTaskResize,
)
from .loading import LoadMultiTaskAnnotations
from .photometric import MultiTaskPhotoMetricDistortion
from .teacher_outputs import LoadTeacherOutputs

__all__ = [
    'PackMultiTaskInputs', 'MultiTaskPad', 'MultiTaskRandomCrop', 'MultiTaskRandomFlip',
    'MultiTaskRandomResize', 'MultiTaskResize', 'LoadMultiTaskAnnotations',
    'MultiTaskPhotoMetricDistortion', 'LoadTeacherOutputs'
]
