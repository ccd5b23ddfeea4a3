from .channel_deform_conv import ChannelDeformConv2d, WindowOffsetPredictor
from .deformable_mixer import DeformableMixer, DeformableMixerLayer
from .task_attention import TaskAttention, TaskInteractionBlock, TaskQueryBlock

__all__ = [
    'ChannelDeformConv2d', 'DeformableMixer', 'DeformableMixerLayer', 'TaskAttention',
    'TaskInteractionBlock', 'TaskQueryBlock', 'WindowOffsetPredictor'
]
