"""mmmtl: multi-task dense prediction with knowledge distillation (KDAM)."""
import mmcv
import mmengine
import mmseg
from mmengine.utils import digit_version

from .utils.checkpoint import allow_mmengine_checkpoint_types
from .version import __version__, version_info

MMCV_VERSION = '2.1.0'
MMENGINE_VERSION = '0.10.7'
MMSEG_VERSION = '1.2.2'


def _check_version(name: str, installed: str, expected: str) -> None:
    if digit_version(installed)[:3] != digit_version(expected)[:3]:
        import warnings
        warnings.warn(f'mmmtl is tested with {name}=={expected}, found {installed}; '
                      'see docs/get_started.md for the pinned stack.')


_check_version('mmcv', mmcv.__version__, MMCV_VERSION)
_check_version('mmengine', mmengine.__version__, MMENGINE_VERSION)
_check_version('mmsegmentation', mmseg.__version__, MMSEG_VERSION)

# torch>=2.6 loads checkpoints with weights_only=True; allow-list the safe types
# mmengine writes into its checkpoints so --resume and teacher loading work.
allow_mmengine_checkpoint_types()

__all__ = ['__version__', 'version_info']
