"""Peak tensor memory of a piece of work (for memory tests and benchmarks)."""
from typing import Callable

import torch


def peak_tensor_memory(fn: Callable[[], None], device: torch.device) -> int:
    """Peak bytes of the tensors ``fn`` allocates (above those alive before).

    CUDA: the allocator's statistics. CPU: the profiler's memory timeline
    (tensors created minus tensors destroyed, at its highest).
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - start
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                profile_memory=True, record_shapes=True,
                                with_stack=True) as prof:
        fn()
    live = peak = 0
    for _, action, _, size in prof._memory_profile().timeline:
        if action.name in ('CREATE', 'DESTROY'):
            live += size if action.name == 'CREATE' else -size
            peak = max(peak, live)
    return peak
