from .inference import InferencePipeline, inference_model, init_model, load_model_checkpoint
from .multitask_inferencer import MultiTaskInferencer

__all__ = [
    'InferencePipeline', 'inference_model', 'init_model', 'load_model_checkpoint',
    'MultiTaskInferencer'
]
