from .pretrained_fit import (
    check_pretrained_fit,
    key_list,
    pretrained_state_dict,
    shape_mismatches,
    state_dict_problems,
    verify_backbone_pretrained,
)

__all__ = [
    'check_pretrained_fit', 'key_list', 'pretrained_state_dict', 'shape_mismatches',
    'state_dict_problems',
    'verify_backbone_pretrained'
]
