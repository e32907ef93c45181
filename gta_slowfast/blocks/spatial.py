"""Spatial self-attention within each frame (thesis Eq. 2.3)."""

import torch
import torch.nn as nn

from .common import ResidualAttention, attention_softmax, fused_projection, projection


class SpatialSelfAttention(ResidualAttention):
    """
    Spatial self-attention, thesis Eq. (2.3): for every frame t,

        A_s(t) = softmax(Q_s(t) K_s(t)^T / sqrt(C')) V_s(t),   Y_s(t) = X(t) + A_s(t) W_O^s.

    Queries come from every pixel; keys and values are projected at full resolution and then
    max-pooled spatially by ``pool`` (h, w), which cuts the attention cost by h*w. No position
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
        pool = [int(p) for p in pool]
        self.pool = (
            nn.MaxPool3d(kernel_size=[1] + pool, stride=[1] + pool)
            if any(p > 1 for p in pool)
            else nn.Identity()
        )
        self.scale = dim_inner**-0.5

    def attend(self, x):
        n, _, t, h, w = x.shape
        ci = self.dim_inner
        # Channels-last (memory [N, T, H, W, C]): the projection is one matrix product, faster on
        # the CPU than on [N, C, T, H, W], and every frame's queries, keys and values are views.
        x = x.contiguous(memory_format=torch.channels_last_3d)
        qkv = fused_projection(x, (self.conv_q, self.conv_k, self.conv_v))  # [N, 3C', T, H, W]
        q, kv = qkv.split([ci, 2 * ci], dim=1)
        # -> [N*T, HW, C'] (queries) and [N*T, hw, C'] (keys, values).
        q = q.permute(0, 2, 3, 4, 1).reshape(n * t, h * w, ci)
        k, v = self.pool(kv).permute(0, 2, 3, 4, 1).reshape(n * t, -1, 2 * ci).split(ci, dim=-1)
        attn = attention_softmax((q * self.scale) @ k.transpose(1, 2))  # [N*T, HW, hw]
        out = attn @ v  # [N*T, HW, C']
        return out.reshape(n, t, h, w, ci).permute(0, 4, 1, 2, 3)
