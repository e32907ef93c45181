"""Temporal self-attention at each spatial position (thesis Eq. 2.4), optionally with a
temporal positional encoding (TAPE) and the cross-channel multi-head form (paper Eq. 7-8)."""

import math

import torch

from .common import (
    ResidualAttention,
    attention,
    attention_softmax,
    project_stacked,
    projection,
)


def sinusoidal_encoding(num_frames, dim, dtype=torch.float32, device=None):
    """The fixed sine/cosine encoding of Vaswani et al., shaped [1, dim, T, 1, 1], computed in
    ``dtype`` (a float64 model gets a float64 encoding)."""
    position = torch.arange(num_frames, dtype=dtype, device=device)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, dtype=dtype, device=device) * (-math.log(10000.0) / dim)
    )
    enc = torch.zeros(num_frames, dim, dtype=dtype, device=device)
    enc[:, 0::2] = torch.sin(position * freq)
    enc[:, 1::2] = torch.cos(position * freq[: dim // 2])
    return enc.t().reshape(1, dim, num_frames, 1, 1)


class TemporalSelfAttention(ResidualAttention):
    """
    Temporal self-attention, thesis Eq. (2.4): at every spatial position (i, j),

        A_t(i, j) = softmax(Q_t(i, j) K_t(i, j)^T / sqrt(C')) V_t(i, j),
        Y_t(i, j) = Y_s(i, j) + A_t(i, j) W_O^t,

    over the T frames, without pooling. Plain self-attention is equivariant to a permutation of
    the frames (paper, Sec. 3.3). With ``positional_encoding`` (TAPE, Table 2b / 2.2) a fixed
    sinusoidal encoding of the frame index is added to the input of the Q/K/V projections, which
    makes the block order-aware and ties it to ``num_frames``.

    With ``groups`` G > 1, the cross-channel multi-head form of paper Eq. (7)-(8) with the
    attention maps computed from the input (Table 7, "TAPE w/ CCMH"): Q, K and V are split
    into G groups of d = C'/G channels, the map of head k over group g is
    M_g^k = softmax(Q_k K_g^T / sqrt(d)), and head k's output is sum_g M_g^k V_g; the G heads
    are concatenated back to C' channels. This costs G times the plain block's attention
    products.

    Args:
        dim (int): channels C of the input and output.
        dim_inner (int): channels C' of queries, keys and values.
        num_frames (int): T; required with ``positional_encoding``.
        positional_encoding (bool): TAPE when True.
        groups (int): G, the cross-channel multi-head group (and head) count; 1 for none.
    """

    def __init__(
        self, dim, dim_inner, num_frames=None, positional_encoding=False, groups=1, **kwargs
    ):
        if positional_encoding and not num_frames:
            raise ValueError(
                "TemporalSelfAttention: positional_encoding needs num_frames, got "
                f"{num_frames!r}"
            )
        if groups < 1 or dim_inner % groups:
            raise ValueError(
                f"TemporalSelfAttention: GTA.SELF_ATTENTION_GROUPS={groups} must be >= 1 and "
                f"divide the inner channel count {dim_inner} (= {dim} channels / "
                f"GTA.INNER_REDUCTION)"
            )
        super().__init__(
            dim, dim_inner, num_frames=num_frames if positional_encoding else None, **kwargs
        )
        self.dim_inner = dim_inner
        self.positional_encoding = positional_encoding
        self.groups = groups
        self.conv_q = projection(dim, dim_inner)
        self.conv_k = projection(dim, dim_inner)
        self.conv_v = projection(dim, dim_inner)
        self.scale = (dim_inner // groups) ** -0.5

    def _queries_keys_values(self, x):
        """Q, K, V of ``x`` [N, C, T, H, W] (TAPE added first where the block has it), each
        [N, HW, T, C']: positions are the heads of one attention call (views of one
        channels-last projection)."""
        if self.positional_encoding:
            x = x + sinusoidal_encoding(x.shape[2], self.dim, x.dtype, x.device)
        return project_stacked(x, (self.conv_q, self.conv_k, self.conv_v)).transpose(
            1, 2).split(self.dim_inner, dim=-1)

    def attention_map(self, x, position=None):
        """
        The T x T attention maps the block applies to its values for the input ``x``
        [N, C, T, H, W], from its own projections: M_g^k = softmax(Q_k K_g^T / sqrt(d)) of
        Eq. (2.4) (G = 1: the one map softmax(Q K^T / sqrt(C'))) and Eq. (7)-(8), rows output
        frame t, columns input frame s, each row summing to one. Head k's output at a position
        is sum_g M_g^k V_g there. Returns [N, H, W, G heads, G groups, T, T], or at
        ``position`` (i, j) of the H x W grid [N, G, G, T, T].
        """
        n, _, t, h, w = x.shape
        if position is not None:
            i, j = position
            if not (0 <= i < h and 0 <= j < w):
                raise ValueError(
                    f"{self.block_name}: position {tuple(position)} is outside its {h}x{w} grid"
                )
            x, h, w = x[:, :, :, i : i + 1, j : j + 1], 1, 1
        g = self.groups
        q, k, _ = self._queries_keys_values(x)
        # [N, HW, G, T, d]: group (head) g of the queries and keys.
        q, k = (y.reshape(n, h * w, t, g, -1).transpose(2, 3) for y in (q, k))
        logits = (q[:, :, :, None] * self.scale) @ k[:, :, None].transpose(-1, -2)
        maps = attention_softmax(logits, dim=-1)  # [N, HW, head, group, T, T]
        return maps[:, 0] if position is not None else maps.reshape(n, h, w, g, g, t, t)

    def attend(self, x):
        n, _, t, h, w = x.shape
        ci, g = self.dim_inner, self.groups
        q, k, v = self._queries_keys_values(x)
        if g == 1:
            out = attention(q, k, v, self.scale)  # [N, HW, T, C']
            return [out.permute(0, 3, 2, 1).reshape(n, ci, t, h, w)]
        d = ci // g
        shape = (n, h * w, t, g, d)
        # Every (head k, group g) pair: queries of group k against keys and values of group g.
        q = q.reshape(shape).permute(0, 1, 3, 2, 4)[:, :, :, None].expand(n, h * w, g, g, t, d)
        k, v = (
            y.reshape(shape).permute(0, 1, 3, 2, 4)[:, :, None].expand(n, h * w, g, g, t, d)
            for y in (k, v)
        )
        pairs = [y.reshape(n * h * w, g * g, t, d) for y in (q, k, v)]
        out = attention(*pairs, self.scale).reshape(n, h * w, g, g, t, d).sum(dim=3)
        # [N, HW, head, T, d] -> [N, C' = (head, d), T, H, W]
        return [out.permute(0, 2, 4, 3, 1).reshape(n, ci, t, h, w)]
