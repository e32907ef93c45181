"""
The blocks' fast path (fused projections, channels-last spatial attention) against the reference
path they replaced: the straightforward per-projection math, kept here verbatim. Outputs and
every gradient must agree in float64 for every variant, odd sizes and both memory formats.
"""

import pytest
import torch
from fvcore.common.config import CfgNode

from gta_slowfast.blocks import (
    BlockSpec,
    DecoupledBlock,
    GlobalTemporalAttention,
    SpatialSelfAttention,
    TemporalSelfAttention,
    build_variant,
    cross_channel_multi_head,
)
from gta_slowfast.blocks.common import attention_softmax
from gta_slowfast.config import add_gta_config


def gta_node(**overrides):
    cfg = CfgNode()
    cfg.NONLOCAL = CfgNode()
    add_gta_config(cfg)
    for key, value in overrides.items():
        setattr(cfg.GTA, key, value)
    return cfg.GTA


def reference_spatial(block, x):
    n, _, t, h, w = x.shape
    ci = block.dim_inner
    q = block.conv_q(x).permute(0, 2, 3, 4, 1).reshape(n * t, h * w, ci)
    k = block.pool(block.conv_k(x)).transpose(1, 2).reshape(n * t, ci, -1)
    v = block.pool(block.conv_v(x)).permute(0, 2, 3, 4, 1).reshape(n * t, -1, ci)
    attn = attention_softmax((q * block.scale) @ k)
    out = attn @ v
    return out.reshape(n, t, h, w, ci).permute(0, 4, 1, 2, 3)


def reference_temporal(block, x):
    n, _, t, h, w = x.shape
    ci = block.dim_inner
    if block.positional_encoding:
        x = x + block.encoding.to(x.dtype)
    q = block.conv_q(x).permute(0, 3, 4, 2, 1).reshape(n * h * w, t, ci)
    k = block.conv_k(x).permute(0, 3, 4, 1, 2).reshape(n * h * w, ci, t)
    v = block.conv_v(x).permute(0, 3, 4, 2, 1).reshape(n * h * w, t, ci)
    attn = attention_softmax((q * block.scale) @ k)
    out = attn @ v
    return out.reshape(n, h, w, t, ci).permute(0, 4, 3, 1, 2)


def reference_gta(block, x):
    n, _, t, h, w = x.shape
    ci = block.dim_inner
    values = block.conv_v(x)
    outputs = []
    if block.pixel:
        v = values[:, :ci].reshape(n, ci, t, h * w)
        outputs.append(cross_channel_multi_head(v, block.pixel_attention).reshape(n, ci, t, h, w))
    if block.region:
        r = block.num_regions
        assign = block.region_assignment(x).transpose(1, 2).reshape(n * t, r, h * w)
        v = values[:, -ci:].permute(0, 2, 3, 4, 1).reshape(n * t, h * w, ci)
        mass = assign.sum(dim=-1, keepdim=True).clamp_min(1e-4)
        regions = (assign @ v) / mass
        regions = regions.reshape(n, t, r, ci).permute(0, 3, 1, 2)
        mixed = cross_channel_multi_head(regions, block.region_attention)
        mixed = mixed.permute(0, 2, 3, 1).reshape(n * t, r, ci)
        back = assign.transpose(1, 2) @ mixed
        outputs.append(back.reshape(n, t, h, w, ci).permute(0, 4, 1, 2, 3))
    return outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)


REFERENCE_ATTEND = {
    SpatialSelfAttention: reference_spatial,
    TemporalSelfAttention: reference_temporal,
    GlobalTemporalAttention: reference_gta,
}


def reference_forward(block, x):
    """The block's forward with the reference attention math, on the block's own parameters."""
    if isinstance(block, DecoupledBlock):
        for part in (block.spatial, block.temporal):
            if part is not None:
                x = reference_forward(part, x)
        return x
    return x + block.bn(block.conv_out(REFERENCE_ATTEND[type(block)](block, x)))


def outputs_and_grads(forward, block, x):
    x = x.clone().requires_grad_()
    block.zero_grad(set_to_none=True)
    y = forward(x)
    (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
    grads = {name: p.grad.clone() for name, p in block.named_parameters()}
    return y.detach(), x.grad, grads


CASES = [
    ("sa", {}),
    ("sa", dict(SPATIAL_POOL=[1, 1])),
    ("ta", {}),
    ("tape", {}),
    ("dnl", {}),
    ("sa_tape", {}),
    ("gta", {}),
    ("gta", dict(GROUPS=1)),
    ("gta", dict(REGION=False)),
    ("gta", dict(PIXEL=False, SPATIAL=False)),
    ("gta", dict(NUM_REGIONS=12)),  # more regions than inner channels (8)
]


@pytest.mark.parametrize("variant,overrides", CASES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_fast_path_matches_reference(variant, overrides, channels_last):
    torch.manual_seed(0)
    overrides = dict(dict(ZERO_INIT_FINAL_NORM=False, GROUPS=4), **overrides)
    spec = BlockSpec(dim=32, num_frames=4, gta_cfg=gta_node(**overrides), pool_size=[1, 2, 2])
    block = build_variant(variant, spec).double().train()
    x = torch.randn(2, 32, 4, 7, 5, dtype=torch.float64)  # odd sizes: the 2x2 pool floors
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    state = {k: v.clone() for k, v in block.state_dict().items()}
    got = outputs_and_grads(block, block, x)
    block.load_state_dict(state)  # undo the running-statistics update of the first pass
    want = outputs_and_grads(lambda x: reference_forward(block, x), block, x)
    torch.testing.assert_close(got[0], want[0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got[1], want[1], rtol=1e-10, atol=1e-10)
    assert got[2].keys() == want[2].keys()
    for name in want[2]:
        torch.testing.assert_close(got[2][name], want[2][name], rtol=1e-10, atol=1e-10,
                                   msg=lambda m: f"{name}: {m}")
    # The block hands back the memory format it was given.
    assert got[0].is_contiguous(
        memory_format=torch.channels_last_3d if channels_last else torch.contiguous_format
    )


@pytest.mark.parametrize("variant", ["dnl", "gta"])
def test_fast_path_matches_reference_in_float32(variant):
    """At the float32 of training the two paths differ by rounding only."""
    torch.manual_seed(0)
    spec = BlockSpec(dim=64, num_frames=8, gta_cfg=gta_node(ZERO_INIT_FINAL_NORM=False),
                     pool_size=[1, 2, 2])
    block = build_variant(variant, spec).eval()
    x = torch.randn(2, 64, 8, 14, 14)
    with torch.no_grad():
        got, want = block(x), reference_forward(block, x)
    assert (got - want).norm() / want.norm() < 1e-5
