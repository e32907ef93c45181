"""Temporal self-attention at each spatial position (thesis Eq. 2.4), optionally with a
temporal positional encoding (TAPE)."""

import math

import torch

from .common import ResidualAttention, attention_softmax, fused_projection, projection


def sinusoidal_encoding(num_frames, dim):
    """The fixed sine/cosine encoding of Vaswani et al., shaped [1, dim, T, 1, 1]."""
    position = torch.arange(num_frames, dtype=torch.float32)[:, None]
    freq = torch.exp(
        torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim)
    )
    enc = torch.zeros(num_frames, dim)
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

    Args:
        dim (int): channels C of the input and output.
        dim_inner (int): channels C' of queries, keys and values.
        num_frames (int): T; required with ``positional_encoding``.
        positional_encoding (bool): TAPE when True.
    """

    def __init__(self, dim, dim_inner, num_frames=None, positional_encoding=False, **kwargs):
        if positional_encoding and not num_frames:
            raise ValueError(
                "TemporalSelfAttention: positional_encoding needs num_frames, got "
                f"{num_frames!r}"
            )
        super().__init__(
            dim, dim_inner, num_frames=num_frames if positional_encoding else None, **kwargs
        )
        self.dim_inner = dim_inner
        self.positional_encoding = positional_encoding
        self.conv_q = projection(dim, dim_inner)
        self.conv_k = projection(dim, dim_inner)
        self.conv_v = projection(dim, dim_inner)
        if positional_encoding:
            self.register_buffer(
                "encoding", sinusoidal_encoding(num_frames, dim), persistent=False
            )
        self.scale = dim_inner**-0.5

    def attend(self, x):
        n, _, t, h, w = x.shape
        ci = self.dim_inner
        if self.positional_encoding:
            x = x + self.encoding.to(x.dtype)
        qkv = fused_projection(x, (self.conv_q, self.conv_k, self.conv_v))  # [N, 3C', T, H, W]
        q, k, v = qkv.permute(0, 3, 4, 2, 1).reshape(n * h * w, t, 3 * ci).split(ci, dim=-1)
        attn = attention_softmax((q * self.scale) @ k.transpose(1, 2))  # [N*HW, T, T]
        out = attn @ v  # [N*HW, T, C']
        return out.reshape(n, h, w, t, ci).permute(0, 4, 3, 1, 2)
