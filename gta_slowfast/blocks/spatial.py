"""Spatial self-attention within each frame (thesis Eq. 2.3)."""

from .common import ResidualAttention, attention, project_stacked, projection, window_max


class SpatialSelfAttention(ResidualAttention):
    """
    Spatial self-attention, thesis Eq. (2.3): for every frame t,

        A_s(t) = softmax(Q_s(t) K_s(t)^T / sqrt(C')) V_s(t),   Y_s(t) = X(t) + A_s(t) W_O^s.

    Queries come from every pixel; keys and values are projected at full resolution and then
    max-pooled spatially by ``pool`` (h, w), which cuts the attention cost by h*w. The three
    projections are one product. No position
    attends across frames, so the block is equivariant to any permutation of the frames.

    Args:
        dim (int): channels C of the input and output.
        dim_inner (int): channels C' of queries, keys and values.
        pool (list[int]): spatial max-pool kernel (h, w) for keys and values; [1, 1] for none.
    """

    def __init__(self, dim, dim_inner, pool=(2, 2), **kwargs):
        super().__init__(dim, dim_inner, **kwargs)
        self.dim_inner = dim_inner
        self.conv_q = projection(dim, dim_inner)
        self.conv_k = projection(dim, dim_inner)
        self.conv_v = projection(dim, dim_inner)
        self.pool = tuple(int(p) for p in pool)
        self.scale = dim_inner**-0.5

    def attend(self, x):
        n, _, t, h, w = x.shape
        ci = self.dim_inner
        # Frames are the heads of one attention call: [N, T, HW, C'] queries, [N, T, hw, C']
        # keys and values (slices of one projection; keys and values pooled together).
        q, kv = project_stacked(x, (self.conv_q, self.conv_k, self.conv_v)).split(
            [ci, 2 * ci], dim=-1)
        if self.pool != (1, 1):
            kv = window_max(kv.reshape(n, t, h, w, 2 * ci), self.pool)
        # The backward keeps q: a copy of its own lets the projection's full-resolution keys and
        # values go once pooled.
        out = attention(q.contiguous(), *kv.split(ci, dim=-1), self.scale)  # [N, T, HW, C']
        return [out.reshape(n, t, h, w, ci).permute(0, 4, 1, 2, 3)]
