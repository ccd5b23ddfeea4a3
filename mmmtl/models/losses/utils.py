import torch


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over ``mask``; 0 (with gradient) if the mask is empty.

    Args:
        values: (N, H, W) or (N, 1, H, W) per-pixel losses.
        mask: Boolean tensor of the same shape.
    """
    mask = mask.to(values.dtype)
    return (values * mask).sum() / mask.sum().clamp(min=1.)
