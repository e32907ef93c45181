"""Global Temporal Attention (paper Sec. 3.3, Eq. 5-8; thesis Eq. 2.5-2.8)."""

import torch
import torch.nn as nn

from .common import ResidualAttention, attention_softmax, fused_projection, projection


def cross_channel_multi_head(values, weight):
    """
    Cross-channel multi-head global temporal attention, Eq. (6)-(8).

    The C' channels of ``values`` are split into G groups V_g; head k of the output is
    MH_G^k = sum_g M_g^k V_g (Eq. 7 summed over groups as in Eq. 8), and with N_h = G heads the
    heads are concatenated back to C' channels. All heads and groups are one matmul with the
    (G*T) x (G*T) matrix whose block (k, g) is M_g^k.

    Args:
        values (Tensor): [B, C', T, P], P independent positions (pixels or regions).
        weight (Tensor): [G, G, T, T], ``weight[k, g]`` = M_g^k.
    Returns:
        Tensor [B, C', T, P].
    """
    b, c, t, p = values.shape
    g = weight.shape[0]
    cg = c // g
    # Rows: one per (channel-in-group, position); columns: (group, frame).
    v = values.reshape(b, g, cg, t, p).permute(0, 2, 4, 1, 3).reshape(b, cg * p, g * t)
    m = weight.permute(0, 2, 1, 3).reshape(g * t, g * t)  # rows (head, t), columns (group, s)
    out = v @ m.t()  # [B, cg*P, (head, t)]
    return out.reshape(b, cg, p, g, t).permute(0, 3, 1, 4, 2).reshape(b, c, t, p)


class GlobalTemporalAttention(ResidualAttention):
    """
    Global Temporal Attention, paper Eq. (5):

        Y = X + A^P W_O^P + W_R^T A^R W_O^R,

    with A = M^ V (Eq. 6): the temporal attention M^ in R^{T x T} is a learned parameter,
    shared by all samples and positions, not a function of the input. It is applied

    - at pixel level (Pixel GTA): every spatial position is a sequence of T values;
    - at region level (Region GTA): each frame's pixels are softly assigned to R regions by a
      learned projection (thesis: G_R(t) = W_G X(t)^T, here a 1x1 conv C -> R followed by a
      softmax over the R regions), a region's value is the assignment-weighted mean of its
      pixels' values, GTA runs along time on every region, and the transposed assignment
      W_R^T carries the result back to the pixels.

    Both use the cross-channel multi-head form (Eq. 7-8, N_h = G); ``groups=1`` is GTA without
    CCMH. The pixel and region output projections W_O^P, W_O^R act on the concatenated branch
    outputs as one 1x1 convolution, which equals their sum. Residual, identity at init.

    Args:
        dim (int): channels C of the input and output.
        dim_inner (int): value channels C' of each branch; divisible by ``groups``.
        num_frames (int): T, the clip length at this stage; M^ is T x T.
        pixel (bool): use Pixel GTA.
        region (bool): use Region GTA.
        num_regions (int): R.
        groups (int): G, the CCMH group (and head) count.
    """

    def __init__(
        self,
        dim,
        dim_inner,
        num_frames,
        pixel=True,
        region=True,
        num_regions=8,
        groups=8,
        **kwargs,
    ):
        if not (pixel or region):
            raise ValueError(
                "GlobalTemporalAttention: GTA.PIXEL and GTA.REGION are both False; "
                "enable at least one branch"
            )
        if groups < 1 or dim_inner % groups:
            raise ValueError(
                f"GlobalTemporalAttention: GTA.GROUPS={groups} must be >= 1 and divide the "
                f"inner channel count {dim_inner} (= {dim} channels / GTA.INNER_REDUCTION)"
            )
        if region and num_regions < 1:
            raise ValueError(
                f"GlobalTemporalAttention: GTA.NUM_REGIONS must be >= 1, got {num_regions}"
            )
        if not num_frames or num_frames < 1:
            raise ValueError(
                f"GlobalTemporalAttention: num_frames must be a positive int, got {num_frames!r}"
            )
        branches = int(pixel) + int(region)
        super().__init__(dim, branches * dim_inner, num_frames=num_frames, **kwargs)
        self.dim_inner = dim_inner
        self.pixel = pixel
        self.region = region
        self.groups = groups
        self.num_regions = num_regions if region else 0
        # Value projections of both branches, fused into one convolution.
        self.conv_v = projection(dim, branches * dim_inner)
        std = (groups * num_frames) ** -0.5
        shape = (groups, groups, num_frames, num_frames)
        if pixel:
            self.pixel_attention = nn.Parameter(torch.randn(shape) * std)
        if region:
            self.conv_region = projection(dim, num_regions)
            self.region_attention = nn.Parameter(torch.randn(shape) * std)

    def region_assignment(self, x):
        """Soft assignment of every pixel to the R regions: [N, R, T, H, W], sums to 1 over R
        (``attend`` computes the same from its fused projection)."""
        return attention_softmax(self.conv_region(x), dim=1)

    def attend(self, x):
        n, _, t, h, w = x.shape
        ci = self.dim_inner
        convs, sizes = (self.conv_v,), [ci] * (self.pixel + self.region)
        if self.region:
            convs, sizes = convs + (self.conv_region,), sizes + [self.num_regions]
        # Pixel values, region values, region logits: [N, C', T, H, W], ..., [N, R, T, H, W].
        parts = fused_projection(x, convs).split(sizes, dim=1)
        outputs = []
        if self.pixel:
            v = parts[0].reshape(n, ci, t, h * w)
            outputs.append(
                cross_channel_multi_head(v, self.pixel_attention).reshape(n, ci, t, h, w)
            )
        if self.region:
            r = self.num_regions
            assign = attention_softmax(parts[-1], dim=1).transpose(1, 2).reshape(n * t, r, h * w)
            v = parts[-2].permute(0, 2, 3, 4, 1).reshape(n * t, h * w, ci)
            mass = assign.sum(dim=-1, keepdim=True).clamp_min(1e-4)
            regions = (assign @ v) / mass  # [N*T, R, C'], weighted mean per region
            regions = regions.reshape(n, t, r, ci).permute(0, 3, 1, 2)  # [N, C', T, R]
            mixed = cross_channel_multi_head(regions, self.region_attention)
            mixed = mixed.permute(0, 2, 3, 1).reshape(n * t, r, ci)
            back = assign.transpose(1, 2) @ mixed  # [N*T, HW, C']
            outputs.append(back.reshape(n, t, h, w, ci).permute(0, 4, 1, 2, 3))
        return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
