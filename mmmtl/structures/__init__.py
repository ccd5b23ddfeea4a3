from .multitask_data_sample import MultiTaskDataSample

__all__ = ['MultiTaskDataSample']
