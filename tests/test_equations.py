"""
The blocks against the paper's equations, written out here a second time and independently of the
package (no function of gta_slowfast is used to compute a reference): explicit loops over
samples, frames, heads, groups and regions on small float64 tensors, the final batch norm by its
formula. Outputs, the input's gradient and every parameter's gradient must agree to 1e-10.

The package computes the same maps through fused kernels, stacked and reordered projections and
the final norm from the attention output's statistics; it runs its written-out attention while
traced (what fvcore counts), which must agree with the fused kernel of eager mode.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from fvcore.common.config import CfgNode

from gta_slowfast.blocks import BlockSpec, build_variant
from gta_slowfast.config import add_gta_config

TOL = dict(rtol=1e-10, atol=1e-10)


def gta_node(**overrides):
    cfg = CfgNode()
    cfg.NONLOCAL = CfgNode()
    add_gta_config(cfg)
    for key, value in overrides.items():
        setattr(cfg.GTA, key, value)
    return cfg.GTA


def linear(conv, x):
    """A 1x1x1 convolution written as a sum over input channels: [C_in, ...] -> [C_out, ...]."""
    w = conv.weight.reshape(conv.weight.shape[0], -1)
    return torch.einsum("oc,c...->o...", w, x) + conv.bias.reshape(-1, *[1] * (x.dim() - 1))


def softmax(z, dim=-1):
    e = torch.exp(z - z.max(dim=dim, keepdim=True).values)
    return e / e.sum(dim=dim, keepdim=True)


def batch_norm(bn, z):
    """Training-mode batch norm of [N, C, T, H, W] by its formula (biased batch variance)."""
    mean = z.mean(dim=(0, 2, 3, 4), keepdim=True)
    var = ((z - mean) ** 2).mean(dim=(0, 2, 3, 4), keepdim=True)
    scale, shift = bn.weight.reshape(1, -1, 1, 1, 1), bn.bias.reshape(1, -1, 1, 1, 1)
    return (z - mean) / torch.sqrt(var + bn.eps) * scale + shift


def residual(part, x, attended):
    """Eq. (4): Y = X + Norm(A W_O), with A [N, C', T, H, W]."""
    projected = torch.stack([linear(part.conv_out, a) for a in attended])
    return x + batch_norm(part.bn, projected)


def spatial_reference(part, x):
    """Thesis Eq. (2.3): self-attention over the pixels of each frame, keys and values max-pooled
    over 2x2 windows (the last row / column dropped when odd)."""
    n, _, t, h, w = x.shape
    ci = part.dim_inner
    out = torch.zeros(n, ci, t, h, w, dtype=x.dtype)
    for b in range(n):
        for f in range(t):
            frame = x[b, :, f]  # [C, H, W]
            q = linear(part.conv_q, frame).reshape(ci, h * w).t()  # [HW, C']
            k, v = (linear(conv, frame) for conv in (part.conv_k, part.conv_v))
            if part.pool != (1, 1):
                k, v = (F.max_pool2d(y[None], part.pool)[0] for y in (k, v))
            k, v = (y.reshape(ci, -1).t() for y in (k, v))  # [hw, C']
            a = softmax(q @ k.t() / math.sqrt(ci)) @ v  # [HW, C']
            out[b, :, f] = a.t().reshape(ci, h, w)
    return residual(part, x, out)


def sinusoid(t, c):
    """Vaswani et al.'s encoding: PE[t, 2i] = sin(t / 10000^(2i/C)), PE[t, 2i+1] = cos(...)."""
    pe = torch.zeros(c, t, dtype=torch.float64)
    for f in range(t):
        for i in range(0, c, 2):
            pe[i, f] = math.sin(f / 10000 ** (i / c))
            if i + 1 < c:
                pe[i + 1, f] = math.cos(f / 10000 ** (i / c))
    return pe


def temporal_reference(part, x):
    """Thesis Eq. (2.4) at every pixel; TAPE adds the encoding to the input; with G groups, head
    k = sum over groups g of softmax(Q_k K_g^T / sqrt(d)) V_g (Eq. 7-8 with input-dependent
    maps)."""
    n, c, t, h, w = x.shape
    ci, g = part.dim_inner, part.groups
    d = ci // g
    source = x + sinusoid(t, c)[None, :, :, None, None] if part.positional_encoding else x
    out = torch.zeros(n, ci, t, h, w, dtype=x.dtype)
    for b in range(n):
        q, k, v = (linear(conv, source[b]) for conv in (part.conv_q, part.conv_k, part.conv_v))
        for i in range(h):
            for j in range(w):
                for head in range(g):
                    qh = q[head * d:(head + 1) * d, :, i, j].t()  # [T, d]
                    acc = torch.zeros(t, d, dtype=x.dtype)
                    for group in range(g):
                        kg = k[group * d:(group + 1) * d, :, i, j].t()
                        vg = v[group * d:(group + 1) * d, :, i, j].t()
                        acc = acc + softmax(qh @ kg.t() / math.sqrt(d)) @ vg
                    out[b, head * d:(head + 1) * d, :, i, j] = acc.t()
    return residual(part, x, out)


def ccmh_reference(values, matrices, groups):
    """Eq. (6)-(8) on values [C', T, P] (groups of C'/G consecutive channels): head k of the
    output = sum over groups g of M_g^k V_g, M_g^k = matrices[k * G + g]; heads concatenated."""
    ci, t, p = values.shape
    cg = ci // groups
    out = torch.zeros_like(values)
    for head in range(groups):
        for group in range(groups):
            m = matrices[head * groups + group]  # [T, T]
            for f in range(t):
                for s in range(t):
                    out[head * cg:(head + 1) * cg, f] = (
                        out[head * cg:(head + 1) * cg, f]
                        + m[f, s] * values[group * cg:(group + 1) * cg, s]
                    )
    return out


def gta_reference(part, x):
    """
    Eq. (5): pixel GTA (the learned matrices over the T values of every pixel) and region GTA
    (per frame, soft assignment S = softmax over R of a 1x1 projection; region value = the
    S-weighted mean of the pixels' values; GTA over the regions' T values; each pixel gets back
    sum_r S[r, pixel] * region r), both with CCMH, through one output projection.
    """
    n, _, t, h, w = x.shape
    ci, g = part.dim_inner, part.groups
    branches = []
    weight = part.conv_v.weight.reshape(-1, part.dim)
    bias = part.conv_v.bias
    rows = {"pixel": slice(0, ci), "region": slice(ci, 2 * ci) if part.pixel else slice(0, ci)}
    if part.pixel:
        out = torch.zeros(n, ci, t, h, w, dtype=x.dtype)
        for b in range(n):
            v = torch.einsum("oc,cthw->othw", weight[rows["pixel"]], x[b]) + bias[rows["pixel"],
                                                                                  None, None, None]
            out[b] = ccmh_reference(v.reshape(ci, t, h * w), part.pixel_attention, g).reshape(
                ci, t, h, w)
        branches.append(out)
    if part.region:
        r = part.num_regions
        out = torch.zeros(n, ci, t, h, w, dtype=x.dtype)
        for b in range(n):
            v = torch.einsum("oc,cthw->othw", weight[rows["region"]], x[b]) + bias[
                rows["region"], None, None, None]
            s = softmax(linear(part.conv_region, x[b]), dim=0)  # [R, T, H, W]
            regions = torch.zeros(ci, t, r, dtype=x.dtype)
            for f in range(t):
                for region in range(r):
                    weights = s[region, f]  # [H, W]
                    mass = max(weights.sum(), torch.tensor(1e-4, dtype=x.dtype))
                    regions[:, f, region] = (v[:, f] * weights).sum(dim=(1, 2)) / mass
            mixed = ccmh_reference(regions, part.region_attention, g)  # [C', T, R]
            for f in range(t):
                for region in range(r):
                    out[b, :, f] = out[b, :, f] + mixed[:, f, region, None, None] * s[region, f]
        branches.append(out)
    return residual(part, x, torch.cat(branches, dim=1))


def reference(block, x):
    """The whole decoupled block: its spatial part, then its temporal part."""
    for part in (block.spatial, block.temporal):
        if part is None:
            continue
        name = type(part).__name__
        x = {"SpatialSelfAttention": spatial_reference,
             "TemporalSelfAttention": temporal_reference,
             "GlobalTemporalAttention": gta_reference}[name](part, x)
    return x


def outputs_and_grads(forward, block, x):
    x = x.clone().requires_grad_()
    y = forward(x)
    weights = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)
    params = [p for _, p in block.named_parameters()]
    grads = torch.autograd.grad((y * weights).sum(), [x] + params)
    return y.detach(), grads


def build(variant, frames=4, **overrides):
    torch.manual_seed(0)
    overrides = dict(dict(ZERO_INIT_FINAL_NORM=False, GROUPS=2, NUM_REGIONS=3), **overrides)
    spec = BlockSpec(dim=16, num_frames=frames, gta_cfg=gta_node(**overrides), pool_size=[1, 2, 2])
    block = build_variant(variant, spec).double().train()
    for norm in (m for m in block.modules() if isinstance(m, torch.nn.BatchNorm3d)):
        torch.nn.init.uniform_(norm.weight, 0.5, 1.5)  # a norm scale of 0 would hide A W_O
        torch.nn.init.uniform_(norm.bias, -0.5, 0.5)
    return block


CASES = [
    ("sa", {}),
    ("sa", dict(SPATIAL_POOL=[1, 1])),
    ("ta", {}),
    ("tape", {}),
    ("tape", dict(SELF_ATTENTION_GROUPS=2)),
    ("dnl", {}),
    ("sa_tape", dict(SELF_ATTENTION_GROUPS=2)),
    ("gta", {}),
    ("gta", dict(GROUPS=1)),
    ("gta", dict(GROUPS=4)),
    ("gta", dict(REGION=False)),
    ("gta", dict(PIXEL=False, SPATIAL=False)),
    ("gta", dict(NUM_REGIONS=6)),  # more regions than channels per group
]


@pytest.mark.parametrize("variant,overrides", CASES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_blocks_compute_the_equations(variant, overrides, channels_last):
    block = build(variant, **overrides)
    torch.manual_seed(1)
    x = torch.randn(2, 16, 4, 5, 3, dtype=torch.float64)  # odd sizes: the 2x2 pool floors
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    got = outputs_and_grads(block, block, x)
    want = outputs_and_grads(lambda x: reference(block, x), block, x)
    torch.testing.assert_close(got[0], want[0], **TOL)
    names = ["input"] + [name for name, _ in block.named_parameters()]
    for name, g, w in zip(names, got[1], want[1]):
        torch.testing.assert_close(g, w, **TOL, msg=lambda m: f"{name}: {m}")
    # The block hands back the memory format it was given.
    assert got[0].is_contiguous(
        memory_format=torch.channels_last_3d if channels_last else torch.contiguous_format)


def test_region_gta_back_projection_is_the_transposed_assignment():
    """Our reading of Eq. (5)'s W_R: regions are the assignment-weighted *means* of the pixels
    (D^-1 S V), and each pixel gets back the assignment-weighted *sum* of the regions (S^T), not
    the transpose of the normalised map. With one region every pixel belongs to it entirely:
    the region is the frame's mean value and every pixel gets exactly the mixed mean back."""
    block = build("gta", PIXEL=False, SPATIAL=False, NUM_REGIONS=1, GROUPS=1)
    part = block.temporal
    x = torch.randn(1, 16, 4, 3, 3, dtype=torch.float64)
    (attended,) = part.attend(x)
    v = linear(part.conv_v, x[0])  # [C', T, H, W]
    mean = v.mean(dim=(2, 3))  # the one region's value per frame: [C', T]
    mixed = mean @ part.region_attention[0].t()  # [C', T]
    want = mixed[:, :, None, None].expand_as(v)
    torch.testing.assert_close(attended[0], want, **TOL)


@pytest.mark.parametrize("variant,overrides", [("dnl", {}), ("gta", {}),
                                               ("tape", dict(SELF_ATTENTION_GROUPS=2))])
def test_traced_written_out_attention_equals_the_fused_kernel(variant, overrides):
    """While traced (fvcore, torch.jit.trace), attention is the two matmuls and the softmax;
    in eager mode the fused kernel: the same outputs and gradients in float64."""
    block = build(variant, **overrides)
    x = torch.randn(2, 16, 4, 4, 4, dtype=torch.float64)
    state = {k: v.clone() for k, v in block.state_dict().items()}
    traced = torch.jit.trace(block, (x,), check_trace=False)
    graph = str(traced.inlined_graph)
    assert "scaled_dot_product_attention" not in graph and "aten::softmax" in graph
    block.load_state_dict(state)
    eager = outputs_and_grads(block, block, x)
    block.load_state_dict(state)
    written_out = outputs_and_grads(traced, block, x)
    torch.testing.assert_close(eager[0], written_out[0], **TOL)
    for g, w in zip(eager[1], written_out[1]):
        torch.testing.assert_close(g, w, **TOL)
