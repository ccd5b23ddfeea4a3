from typing import Dict, Sequence

import torch
import torch.nn as nn

from mmmtl.registry import MODELS


@MODELS.register_module()
class UncertaintyWeighting(nn.Module):
    """Learned task weighting by homoscedastic uncertainty (Kendall et al. 2018).

    Each task t has a learned log-variance s_t; its loss becomes
    ``exp(-s_t) * L_t + s_t``. The fixed task weights (each head's
    ``loss_weight``) are applied before, so s_t = 0 reproduces them.

    Args:
        tasks: Task names.
        init_log_var: Initial value of every s_t.
    """

    def __init__(self, tasks: Sequence[str], init_log_var: float = 0.) -> None:
        super().__init__()
        self.tasks = list(tasks)
        self.log_vars = nn.ParameterDict(
            {task: nn.Parameter(torch.tensor(float(init_log_var))) for task in self.tasks})

    def forward(self, task_losses: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Map ``{task: loss}`` to ``{task: exp(-s) * loss + s}``."""
        weighted = {}
        for task, loss in task_losses.items():
            log_var = self.log_vars[task]
            weighted[task] = torch.exp(-log_var) * loss + log_var
        return weighted
