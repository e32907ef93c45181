"""Global Temporal Attention (paper Sec. 3.3, Eq. 5-8; thesis Eq. 2.5-2.8)."""

import torch
import torch.nn as nn

from .common import ResidualAttention, attention_softmax, project_channels_last, projection

# GTA's learned matrices, [G*G, T, T]: matrix k*G + g is M_g^k (head k, group g).
TEMPORAL_MATRICES = ("pixel_attention", "region_attention")


def head_matrices(matrices, groups):
    """[G*G, T, T] -> [G, G, T, T], entry [k, g] = M_g^k (a view)."""
    return matrices.reshape(groups, groups, *matrices.shape[-2:])


def upgrade_temporal_matrices(tensor):
    """A temporal-matrix tensor of an earlier checkpoint layout, [G, G, T, T], in the current
    one, [G*G, T, T]; tensors already in the current layout are returned as they are."""
    if tensor.dim() == 4:
        return tensor.reshape(-1, *tensor.shape[-2:])
    return tensor


def cross_channel_multi_head(values, matrices):
    """
    Cross-channel multi-head global temporal attention, Eq. (6)-(8).

    The C' channels are split into G groups V_g; head k of the output is
    MH^k = sum_g M_g^k V_g (Eq. 7 summed over groups as in Eq. 8), with N_h = G heads. All heads
    and groups are one product with the (G*T) x (G*T) matrix whose block (k, g) is M_g^k.

    Args:
        values (Tensor): [B, C'/G, G, T, P]: channel i of group g at index [:, i, g], over T
            frames at P independent positions (pixels or regions).
        matrices (Tensor): [G*G, T, T], matrix k*G + g = M_g^k.
    Returns:
        Tensor [B, C'/G, G, T, P]: channel i of head k at index [:, i, k].
    """
    b, cg, g, t, p = values.shape
    # Rows (head k, output frame t), columns (group g, input frame s).
    mixing = head_matrices(matrices, g).permute(0, 2, 1, 3).reshape(g * t, g * t)
    out = torch.bmm(mixing.expand(b * cg, -1, -1), values.reshape(b * cg, g * t, p))
    return out.reshape(b, cg, g, t, p)


class GlobalTemporalAttention(ResidualAttention):
    """
    Global Temporal Attention, paper Eq. (5):

        Y = X + A^P W_O^P + W_R^T A^R W_O^R,

    with A = M^ V (Eq. 6): the temporal attention M^ in R^{T x T} is a learned parameter,
    shared by all samples and positions, not a function of the input. It is applied

    - at pixel level (Pixel GTA): every spatial position is a sequence of T values;
    - at region level (Region GTA): each frame's pixels are softly assigned to R regions by a
      learned projection (thesis: G_R(t) = W_G X(t)^T, here a 1x1 conv C -> R followed by a
      softmax over the R regions, S), GTA runs along time on every region, and the regions go
      back to the pixels.

    Eq. (5) writes the way to the regions and back with one matrix, W_R and its transpose. Here a
    region's value is the assignment-weighted *mean* of its pixels' values (D^-1 S V, D the
    assignment mass of each region: a region's value does not grow with its area), and each
    pixel gets back its assignment-weighted mix of the regions (S^T): the transpose of the
    assignment, not of the normalised map. This is our reading of Eq. (5); the test
    ``test_region_gta_back_projection_is_the_transposed_assignment`` pins it.

    Both use the cross-channel multi-head form (Eq. 7-8, N_h = G); ``groups=1`` is GTA without
    CCMH. The pixel and region output projections W_O^P, W_O^R are the two halves of one 1x1
    convolution over the branches' outputs. Residual, identity at init.

    The value channels of each branch are in G groups of C'/G consecutive channels (the
    projection's rows); the projections run with their rows reordered channel-in-group first,
    so that CCMH reads the values where the projection wrote them.

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
        # Value projections of both branches (pixel first), one convolution's parameters.
        self.conv_v = projection(dim, branches * dim_inner)
        std = (groups * num_frames) ** -0.5
        shape = (groups * groups, num_frames, num_frames)
        if pixel:
            self.pixel_attention = nn.Parameter(torch.randn(shape) * std)
        if region:
            self.conv_region = projection(dim, num_regions)
            self.region_attention = nn.Parameter(torch.randn(shape) * std)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # For loaders that do not read through gta_slowfast.checkpoint (PySlowFast's own, a
        # user's load_state_dict); its reader adapts a checkpoint when read (checkpoint/adapt.py).
        for name in TEMPORAL_MATRICES:
            if prefix + name in state_dict:
                state_dict[prefix + name] = upgrade_temporal_matrices(state_dict[prefix + name])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def head_matrices(self, branch):
        """The learned matrices of ``branch`` ("pixel" or "region") as [G, G, T, T]."""
        return head_matrices(getattr(self, f"{branch}_attention"), self.groups)

    def _grouped(self, tensor, dim):
        """Reorders ``dim`` of ``tensor`` from (group, channel in group) to (channel, group)."""
        shape = tensor.shape
        g, cg = self.groups, shape[dim] // self.groups
        split = shape[:dim] + (g, cg) + shape[dim + 1:]
        return tensor.reshape(split).transpose(dim, dim + 1).reshape(shape)

    def _value_projection(self, branch):
        """Weight [C', C] and bias of ``branch``'s values, rows channel-in-group first."""
        index = 0 if branch == "pixel" or not self.pixel else 1
        rows = slice(index * self.dim_inner, (index + 1) * self.dim_inner)
        weight = self.conv_v.weight.reshape(-1, self.dim)[rows]
        return self._grouped(weight, 0), self._grouped(self.conv_v.bias[rows], 0)

    def _projections(self, x):
        """The value projections of both branches (rows channel-in-group first) and the region
        logits of ``x``, as one product: [N, T, H*W, branches * C' + R], channels last."""
        weights, biases = [], []
        for branch in ("pixel", "region"):
            if getattr(self, branch):
                weight, bias = self._value_projection(branch)
                weights.append(weight)
                biases.append(bias)
        if self.region:
            weights.append(self.conv_region.weight.reshape(self.num_regions, self.dim))
            biases.append(self.conv_region.bias)
        return project_channels_last(x, torch.cat(weights), torch.cat(biases))

    def region_assignment(self, x):
        """Soft assignment S of every pixel to the R regions: [N, R, T, H, W], sums to 1 over R."""
        n, _, t, h, w = x.shape
        logits = self._projections(x)[..., -self.num_regions:]
        assign = attention_softmax(logits, dim=-1)
        return assign.reshape(n, t, h, w, -1).permute(0, 4, 1, 2, 3)

    def attend(self, x):
        n, _, t, h, w = x.shape
        ci, g = self.dim_inner, self.groups
        # [N, T, HW, C' (i, g)] of each branch, then [N, T, HW, R] region logits.
        projected = list(self._projections(x).split(
            [ci] * (int(self.pixel) + int(self.region)) + [self.num_regions] * self.region,
            dim=-1))
        parts = []
        if self.pixel:
            v = projected.pop(0).reshape(n, t, h * w, ci // g, g).permute(0, 3, 4, 1, 2)
            mixed = cross_channel_multi_head(v, self.pixel_attention)  # [N, C'/G, G, T, HW]
            parts.append(mixed.reshape(n, ci, t, h, w))  # channels (i, head)
        if self.region:
            r = self.num_regions
            v, logits = projected
            # Kept for the backward: a copy of its own lets the rest of the projection go.
            v = v.reshape(n * t, h * w, ci).contiguous()
            assign = attention_softmax(logits, dim=-1).reshape(n * t, h * w, r)
            # D^-1 S: each region's weights over the pixels sum to one, so its value is a mean
            # (and stays in range in float16 however many pixels a frame has).
            mean_weights = assign / assign.sum(dim=1, keepdim=True).clamp_min(1e-4)
            regions = mean_weights.transpose(1, 2) @ v  # [N*T, R, C']
            regions = regions.reshape(n, t, r, ci // g, g).permute(0, 3, 4, 1, 2)
            mixed = cross_channel_multi_head(regions, self.region_attention)  # [N, C'/G, G, T, R]
            mixed = mixed.permute(0, 3, 4, 1, 2).reshape(n * t, r, ci)
            back = assign @ mixed  # [N*T, HW, C'], S^T: each pixel's mix of its regions
            parts.append(back.reshape(n, t, h, w, ci).permute(0, 4, 1, 2, 3))
        return parts

    def output_weights(self, parts):
        # The parts' channels are (channel in head, head); W_O's columns are (head, channel).
        return [self._grouped(w, 1) for w in super().output_weights(parts)]
