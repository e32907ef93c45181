"""Decoupled spatial-then-temporal composition (paper Sec. 3.2, Fig. 2b)."""

import torch.nn as nn

from .common import recomputed


class DecoupledBlock(nn.Module):
    """
    The decoupled framework of paper Sec. 3.2: a spatial self-attention block (Eq. 2.3) followed
    by a temporal block, either temporal self-attention (Eq. 2.4, DNL; with positional encoding,
    SA+TAPE) or Global Temporal Attention (Eq. 5-8). Either part may be absent for the ablations
    of Table 2b / 7. Both parts are residual, so the composition is residual too.

    With ``activation_checkpoint`` (``GTA.ACTIVATION_CHECKPOINT``), training keeps only the
    block's input for the backward and recomputes the rest there (``torch.utils.checkpoint``,
    non-reentrant); the recomputation does not update the batch norms' running statistics a
    second time, so results equal those without it.
    """

    def __init__(self, spatial=None, temporal=None, activation_checkpoint=False):
        super().__init__()
        if spatial is None and temporal is None:
            raise ValueError("DecoupledBlock: needs a spatial or a temporal part, got neither")
        self.spatial = spatial
        self.temporal = temporal
        self.activation_checkpoint = activation_checkpoint

    def _parts(self, x):
        if self.spatial is not None:
            x = self.spatial(x)
        if self.temporal is not None:
            x = self.temporal(x)
        return x

    def forward(self, x):
        if self.activation_checkpoint:
            return recomputed(self._parts, x, modules=self)
        return self._parts(x)
