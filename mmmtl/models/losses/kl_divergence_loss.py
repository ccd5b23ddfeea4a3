from typing import Dict, Tuple

from torch import Tensor

from mmmtl.registry import MODELS

from .distill_utils import LN2, BaseLogitDistillLoss, LogitPair


@MODELS.register_module()
class KLDivergenceLoss(BaseLogitDistillLoss):
    """Plain KD (Hinton et al.; paper Eq. 2-3): ``tau^2 * KL(P_T || P_S)``.

    The KL divergence of every row of the ``[R, K]`` matrices (a pixel's
    class distribution in ``channel`` / ``binary`` mode, a map's spatial
    distribution in ``spatial`` mode), averaged over the rows, times
    ``tau^2 * loss_weight``. Returned as ``{'kl': loss}``.

    Args:
        mode: ``'channel'``, ``'binary'`` or ``'spatial'``.
        tau: Temperature (3 in the paper's plain-KD setting).
        loss_weight: Factor on the loss.
        ignore_invalid: Exclude pixels whose ground truth is ignore/invalid.
        global_batch: Under DDP, average over the rows of all ranks (default).
    """

    def __init__(self, mode: str = 'channel', tau: float = 3.0, loss_weight: float = 1.0,
                 ignore_invalid: bool = False, global_batch: bool = True) -> None:
        super().__init__(mode=mode, tau=tau, loss_weight=loss_weight,
                         ignore_invalid=ignore_invalid, global_batch=global_batch)

    def term_names(self) -> Tuple[str, ...]:
        return ('kl', )

    def compute(self, pair: LogitPair) -> Dict[str, Tensor]:
        student_lp, teacher_lp, rows, _ = pair.log_probs()
        # KL(q || p) = ln 2 * (sum q log2 q - sum q log2 p); invalid entries get q = 0.
        teacher_p = rows.exp2_shifted(teacher_lp, 0.)
        teacher_term, cross_term = rows.sum(teacher_p * teacher_lp, teacher_p * student_lp)
        kl = rows.mean(teacher_term - cross_term)
        return {'kl': self.loss_weight * self.tau**2 * LN2 * kl}
