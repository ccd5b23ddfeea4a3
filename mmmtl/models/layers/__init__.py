from .channel_deform_conv import ChannelDeformConv2d, WindowOffsetPredictor
from .context_attention import (
    CONTEXT_TYPES,
    GlobalContextAttention,
    LabelContextAttention,
    LocalContextAttention,
    build_context_attention,
)
from .deformable_mixer import DeformableMixer, DeformableMixerLayer
from .task_attention import TaskAttention, TaskInteractionBlock, TaskQueryBlock

__all__ = [
    'CONTEXT_TYPES', 'ChannelDeformConv2d', 'DeformableMixer', 'DeformableMixerLayer',
    'GlobalContextAttention', 'LabelContextAttention', 'LocalContextAttention', 'TaskAttention',
    'TaskInteractionBlock', 'TaskQueryBlock', 'WindowOffsetPredictor', 'build_context_attention'
]
