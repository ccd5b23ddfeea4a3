from .pretrained_fit import (
    check_pretrained_fit,
    download_failed,
    key_list,
    pretrained_init_cfgs,
    pretrained_state_dict,
    shape_mismatches,
    state_dict_problems,
    verify_backbone_pretrained,
)

__all__ = [
    'check_pretrained_fit', 'download_failed', 'key_list', 'pretrained_init_cfgs',
    'pretrained_state_dict', 'shape_mismatches', 'state_dict_problems',
    'verify_backbone_pretrained'
]
