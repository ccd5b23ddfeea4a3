"""The multi-task gain Delta_m (Maninis et al. 2019; Vandenhende et al.)."""
from typing import Dict, Mapping

# Direction of the metrics that enter Delta_m.
HIGHER_IS_BETTER: Dict[str, bool] = {
    'semseg/mIoU': True,
    'human_parts/mIoU': True,
    'saliency/maxF': True,
    'edge/odsF': True,
    'depth/rmse': False,
    'normal/mean': False,
}


def delta_m(results: Mapping[str, float], single_task_refs: Mapping[str, float],
            higher_is_better: Mapping[str, bool] = HIGHER_IS_BETTER) -> float:
    """Delta_m = (1/T) sum_t (-1)^{l_t} (M_mt,t - M_st,t) / M_st,t * 100.

    ``l_t`` is 1 when lower is better. Every key of ``single_task_refs``
    must be in ``results`` and ``higher_is_better``.

    Returns:
        Delta_m in percent (higher is better).
    """
    if not single_task_refs:
        raise ValueError('delta_m needs at least one single-task reference')
    total = 0.
    for key, reference in single_task_refs.items():
        if key not in results:
            raise KeyError(f'delta_m: metric {key!r} has a single-task reference but no result')
        if key not in higher_is_better:
            raise KeyError(f'delta_m: direction of metric {key!r} is unknown')
        if reference == 0:
            raise ValueError(f'delta_m: single-task reference of {key!r} is 0')
        sign = 1. if higher_is_better[key] else -1.
        total += sign * (results[key] - reference) / reference
    return 100. * total / len(single_task_refs)
