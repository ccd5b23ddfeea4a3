from .channel_deform_conv import (
    ChannelDeformConv2d,
    WindowOffsetPredictor,
    grid_sample_channel_deform_conv2d,
)
from .context_attention import (
    CONTEXT_TYPES,
    GlobalContextAttention,
    LabelContextAttention,
    LocalContextAttention,
    build_context_attention,
)
from .deformable_mixer import DeformableMixer, DeformableMixerLayer
from .task_attention import TaskAttention, TaskInteractionBlock, TaskQueryBlock
from .up_transformer import CrossScaleSelfAttention, UPTransformerBlock

__all__ = [
    'CONTEXT_TYPES', 'ChannelDeformConv2d', 'CrossScaleSelfAttention', 'DeformableMixer',
    'DeformableMixerLayer', 'GlobalContextAttention', 'LabelContextAttention',
    'LocalContextAttention', 'TaskAttention', 'TaskInteractionBlock', 'TaskQueryBlock',
    'UPTransformerBlock', 'WindowOffsetPredictor', 'build_context_attention',
    'grid_sample_channel_deform_conv2d'
]
