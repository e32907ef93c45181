"""The blocks alone: shapes, identity at init, the CCMH arithmetic, gradients, bad inputs."""

import copy

import pytest
import torch

from gta_slowfast.blocks import (
    VARIANT_REGISTRY,
    BlockSpec,
    GlobalTemporalAttention,
    SpatialSelfAttention,
    TemporalSelfAttention,
    build_variant,
    cross_channel_multi_head,
)
from gta_slowfast.config import add_gta_config
from fvcore.common.config import CfgNode

VARIANTS = ["nonlocal", "sa", "ta", "tape", "dnl", "sa_tape", "gta"]


def gta_node(**overrides):
    cfg = CfgNode()
    cfg.NONLOCAL = CfgNode()
    add_gta_config(cfg)
    cfg.GTA.GROUPS = 4
    for key, value in overrides.items():
        setattr(cfg.GTA, key, value)
    return cfg.GTA


def spec(dim=32, frames=4, **overrides):
    return BlockSpec(dim=dim, num_frames=frames, gta_cfg=gta_node(**overrides), pool_size=[1, 2, 2])


def test_registry_has_required_variants():
    names = {name for name, _ in VARIANT_REGISTRY}
    assert set(VARIANTS) <= names


@pytest.mark.parametrize("variant", VARIANTS)
def test_shape_and_identity_at_init(variant):
    torch.manual_seed(0)
    block = build_variant(variant, spec()).train()
    as_built = copy.deepcopy(block)
    x = torch.randn(2, 32, 4, 6, 6)
    y = block(x)
    assert y.shape == x.shape
    if variant == "nonlocal":  # its zero init is applied by PySlowFast's init_weights
        stock_nonlocal_starts_as_pyslowfast_builds_it(as_built, x)
    else:
        assert torch.equal(y, x)


def stock_nonlocal_starts_as_pyslowfast_builds_it(block, x):
    """``block`` (built with seed 0 for 32 channels, pool [1, 2, 2]) is PySlowFast's own
    Nonlocal as a ResStage builds it (structure and hyper-parameters taken from a real
    ResStage), with the weights of PySlowFast's Nonlocal built with the same seed, and starts
    as the identity once PySlowFast's init_weights has run, as in a model."""
    from slowfast.models.nonlocal_helper import Nonlocal
    from slowfast.models.resnet_helper import ResStage
    from slowfast.utils.weight_init_helper import init_weights

    # A one-block res stage of 32 channels with a non-local block after block 0.
    stage = ResStage([32], [32], [1], [[1]], [1], [8], [1], [1], [[0]], [1], [[1, 2, 2]], [1],
                     instantiation="softmax")
    in_stage = stage.pathway0_nonlocal0
    assert type(block) is type(in_stage) is Nonlocal
    assert repr(block) == repr(in_stage)  # modules, widths, pooling, norm eps and momentum
    assert (block.dim_inner, block.instantiation) == (in_stage.dim_inner, in_stage.instantiation)
    assert block.bn.transform_final_bn == in_stage.bn.transform_final_bn
    torch.manual_seed(0)
    reference = Nonlocal(32, 16, [1, 2, 2], instantiation="softmax").train()
    ours, theirs = block.state_dict(), reference.state_dict()
    assert ours.keys() == theirs.keys() == in_stage.state_dict().keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert torch.equal(block(x), reference(x))
    init_weights(block, 0.01, True)
    assert torch.equal(block(x), x)


def test_unknown_variant_lists_known_ones():
    with pytest.raises(KeyError, match=r"NONLOCAL.TYPE='gtaa'.*'dnl'.*'gta'"):
        build_variant("gtaa", spec())


def reference_ccmh(values, weight):
    """Eq. (7)-(8) written directly: head k = sum over groups g of M_g^k V_g, heads concatenated."""
    b, c, t, p = values.shape
    g = weight.shape[0]
    cg = c // g
    heads = []
    for k in range(g):
        acc = torch.zeros(b, cg, t, p, dtype=values.dtype)
        for gi in range(g):
            v_g = values[:, gi * cg : (gi + 1) * cg]  # [B, cg, T, P]
            acc += torch.einsum("ts,bcsp->bctp", weight[k, gi], v_g)
        heads.append(acc)
    return torch.cat(heads, dim=1)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_ccmh_matches_per_head_loop(groups):
    torch.manual_seed(0)
    values = torch.randn(3, 8, 5, 7, dtype=torch.float64)
    weight = torch.randn(groups, groups, 5, 5, dtype=torch.float64)
    out = cross_channel_multi_head(values, weight)
    torch.testing.assert_close(out, reference_ccmh(values, weight), rtol=0, atol=1e-12)


def test_ccmh_without_groups_is_one_temporal_matrix():
    torch.manual_seed(0)
    values = torch.randn(2, 6, 4, 3, dtype=torch.float64)
    weight = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    out = cross_channel_multi_head(values, weight)
    torch.testing.assert_close(out, torch.einsum("ts,bcsp->bctp", weight[0, 0], values))


def test_region_gta_follows_eq5():
    """Region branch = back-projection of GTA over assignment-weighted region means."""
    torch.manual_seed(0)
    block = GlobalTemporalAttention(16, 8, num_frames=3, pixel=False, region=True,
                                    num_regions=2, groups=2, zero_init_final_norm=False).double()
    x = torch.randn(1, 16, 3, 2, 2, dtype=torch.float64)
    got = block.attend(x)
    assign = block.region_assignment(x)[0]  # [R, T, H, W]
    v = block.conv_v(x)[0]  # [C', T, H, W]
    frames = []
    for t in range(3):
        a = assign[:, t].reshape(2, -1)  # [R, HW]
        vt = v[:, t].reshape(8, -1)  # [C', HW]
        frames.append(torch.stack([(vt * a[r]).sum(1) / a[r].sum() for r in range(2)], 1))
    regions = torch.stack(frames, 1)  # [C', T, R]: assignment-weighted mean value per region
    mixed = cross_channel_multi_head(regions[None], block.region_attention)[0]  # Eq. (6)-(8)
    want = torch.stack(  # W_R^T: each pixel takes its assignment-weighted mix of regions
        [(mixed[:, t] @ assign[:, t].reshape(2, -1)).reshape(8, 2, 2) for t in range(3)], 1
    )
    torch.testing.assert_close(got[0], want)


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradient_reaches_every_parameter(variant):
    torch.manual_seed(0)
    block = build_variant(variant, spec(ZERO_INIT_FINAL_NORM=False)).train()
    if variant == "nonlocal":
        torch.nn.init.ones_(block.bn.weight)
    x = torch.randn(2, 32, 4, 6, 6, requires_grad=True)
    block(x).square().mean().backward()
    for name, p in block.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("variant", ["gta", "dnl"])
def test_identity_init_still_trains_final_norm(variant):
    """A block that starts as the identity (zero-initialised final norms) leaves it under
    training: a few SGD steps towards a target that is not the input move the final norm
    scales off zero, the block's output away from its input, and the loss down."""
    torch.manual_seed(0)
    block = build_variant(variant, spec()).train()
    x = torch.randn(2, 32, 4, 6, 6)
    target = x + torch.randn_like(x)
    assert torch.equal(block(x), x)
    norms = [block.spatial.bn, block.temporal.bn]
    assert all(torch.count_nonzero(norm.weight) == 0 for norm in norms)
    optimizer = torch.optim.SGD(block.parameters(), lr=0.5)
    losses = []
    for _ in range(5):
        loss = (block(x) - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.count_nonzero(norm.weight) == norm.num_features for norm in norms)
    with torch.no_grad():
        moved = (block(x) - x).abs().mean().item()
    assert moved > 1e-2 * x.abs().mean().item()
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("cls,kwargs", [
    (GlobalTemporalAttention, dict(num_frames=4, groups=2)),
    (TemporalSelfAttention, dict(num_frames=4, positional_encoding=True)),
])
def test_clip_length_mismatch_names_block_and_lengths(cls, kwargs):
    block = cls(16, 8, **kwargs)
    block.block_name = "s3.pathway0_nonlocal1.temporal"
    with pytest.raises(ValueError, match=r"s3.pathway0_nonlocal1.temporal.*T=4.*T=6"):
        block(torch.randn(1, 16, 6, 3, 3))


def test_plain_attention_accepts_any_clip_length():
    block = TemporalSelfAttention(16, 8)
    assert block(torch.randn(1, 16, 5, 3, 3)).shape == (1, 16, 5, 3, 3)
    block = SpatialSelfAttention(16, 8)
    assert block(torch.randn(1, 16, 7, 4, 4)).shape == (1, 16, 7, 4, 4)


def test_wrong_channel_count_is_named():
    block = SpatialSelfAttention(16, 8)
    with pytest.raises(ValueError, match=r"SpatialSelfAttention.*\[N, 16, T, H, W\].*\[1, 12, 2, 4, 4\]"):
        block(torch.randn(1, 12, 2, 4, 4))


@pytest.mark.parametrize("overrides,message", [
    (dict(GROUPS=3), r"GTA.GROUPS=3 .* divide the inner channel count 8"),
    (dict(PIXEL=False, REGION=False), r"GTA.PIXEL and GTA.REGION are both False"),
    (dict(NUM_REGIONS=0), r"GTA.NUM_REGIONS must be >= 1, got 0"),
    (dict(INNER_REDUCTION=5), r"GTA.INNER_REDUCTION=5 .* 32 channels"),
])
def test_bad_gta_keys_raise_named_errors(overrides, message):
    with pytest.raises(ValueError, match=message):
        build_variant("gta", spec(**overrides))


def test_gta_ablation_switches():
    pixel_only = build_variant("gta", spec(REGION=False))
    assert hasattr(pixel_only.temporal, "pixel_attention")
    assert not hasattr(pixel_only.temporal, "region_attention")
    region_only = build_variant("gta", spec(PIXEL=False, SPATIAL=False))
    assert region_only.spatial is None
    assert not hasattr(region_only.temporal, "pixel_attention")
    no_ccmh = build_variant("gta", spec(GROUPS=1))
    assert no_ccmh.temporal.pixel_attention.shape == (1, 1, 4, 4)
    assert build_variant("gta", spec()).temporal.pixel_attention.shape == (4, 4, 4, 4)


@pytest.mark.parametrize("variant", ["dnl", "gta"])
def test_blocks_run_under_bfloat16_autocast(variant):
    torch.manual_seed(0)
    block = build_variant(variant, spec(ZERO_INIT_FINAL_NORM=False)).eval()
    x = torch.randn(1, 32, 4, 6, 6)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = block(x)
    reference = block(x)
    assert torch.isfinite(y).all()
    # bfloat16 keeps under 3 significant digits and the error compounds over the matmuls of
    # two attention blocks: compare the error norm to the output norm.
    assert (y.float() - reference).norm() / reference.norm() < 0.05
