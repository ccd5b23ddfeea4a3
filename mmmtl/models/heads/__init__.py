from .atrc_baseline_head import ATRCBaselineHead
from .base_task_head import BaseTaskHead, check_out_channels
from .mmseg_task_head import MMSegTaskHead

__all__ = ['ATRCBaselineHead', 'BaseTaskHead', 'MMSegTaskHead', 'check_out_channels']
