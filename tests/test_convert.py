"""
The convert tool (gta_slowfast/tools/convert.py): a torchvision ResNet-50 -> PySlowFast R2D-50
checkpoint (names mapped by gta_slowfast/checkpoint/torchvision_resnet.py), loaded by
PySlowFast's own loader; and ``convert nonlocal``: a network with stock non-local blocks -> the
starting point of a GTA / DNL model.
"""

import re
from collections import OrderedDict

import pytest
import slowfast.utils.checkpoint as cu
import torch
import torch.nn.functional as F
from checkpoint_files import cfg_of, logits, model_zoo_files, without_blocks, write_config
from conftest import build, clip, requires_main, requires_snapshot

import gta_slowfast
from gta_slowfast import checkpoint as ck
from gta_slowfast import compat
from gta_slowfast.checkpoint.torchvision_resnet import (
    convert_torchvision_resnet50,
    unwrap_state_dict,
)
from gta_slowfast.tools import convert

BLOCKS = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def _bn(state, name, channels, gen):
    state[f"{name}.weight"] = torch.empty(channels).uniform_(0.2, 0.6, generator=gen)
    state[f"{name}.bias"] = torch.randn(channels, generator=gen) * 0.1
    state[f"{name}.running_mean"] = torch.randn(channels, generator=gen) * 0.1
    state[f"{name}.running_var"] = torch.empty(channels).uniform_(0.5, 2.0, generator=gen)
    state[f"{name}.num_batches_tracked"] = torch.tensor(1000)


def _conv(state, name, c_out, c_in, k, gen):
    std = (2.0 / (c_in * k * k)) ** 0.5
    state[f"{name}.weight"] = torch.randn(c_out, c_in, k, k, generator=gen) * std


def torchvision_resnet_state(depth=50, seed=0):
    """Random weights in the layout of torchvision's resnet{18,50,101}().state_dict()."""
    gen = torch.Generator().manual_seed(seed)
    bottleneck = depth >= 50
    state = OrderedDict()
    _conv(state, "conv1", 64, 3, 7, gen)
    _bn(state, "bn1", 64, gen)
    dim_in = 64
    for stage, num_blocks in enumerate(BLOCKS[depth]):
        width = 64 * 2**stage
        dim_out = 4 * width if bottleneck else width
        for b in range(num_blocks):
            p = f"layer{stage + 1}.{b}"
            if bottleneck:
                convs = [(width, dim_in, 1), (width, width, 3), (dim_out, width, 1)]
            else:
                convs = [(width, dim_in, 3), (width, width, 3)]
            for i, (c_out, c_in, k) in enumerate(convs, start=1):
                _conv(state, f"{p}.conv{i}", c_out, c_in, k, gen)
                _bn(state, f"{p}.bn{i}", c_out, gen)
            if b == 0 and (dim_in != dim_out or stage > 0):
                _conv(state, f"{p}.downsample.0", dim_out, dim_in, 1, gen)
                _bn(state, f"{p}.downsample.1", dim_out, gen)
            dim_in = dim_out
    state["fc.weight"] = torch.randn(1000, dim_in, generator=gen) * 0.01
    state["fc.bias"] = torch.zeros(1000)
    return state


def reference_resnet50(state, x):
    """torchvision's ResNet-50 (v1.5: stride on the 3x3 conv) up to layer4, eval mode."""

    def bn(y, name):
        return F.batch_norm(
            y,
            state[f"{name}.running_mean"],
            state[f"{name}.running_var"],
            state[f"{name}.weight"],
            state[f"{name}.bias"],
            training=False,
            eps=1e-5,
        )

    x = F.relu(bn(F.conv2d(x, state["conv1.weight"], stride=2, padding=3), "bn1"))
    x = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
    for stage, num_blocks in enumerate(BLOCKS[50]):
        for b in range(num_blocks):
            p = f"layer{stage + 1}.{b}"
            stride = 2 if b == 0 and stage > 0 else 1
            y = F.relu(bn(F.conv2d(x, state[f"{p}.conv1.weight"]), f"{p}.bn1"))
            y = F.conv2d(y, state[f"{p}.conv2.weight"], stride=stride, padding=1)
            y = F.relu(bn(y, f"{p}.bn2"))
            y = bn(F.conv2d(y, state[f"{p}.conv3.weight"]), f"{p}.bn3")
            if b == 0:
                x = F.conv2d(x, state[f"{p}.downsample.0.weight"], stride=stride)
                x = bn(x, f"{p}.downsample.1")
            x = F.relu(x + y)
    return x


def r2d50(crop=64):
    cfg = convert.r2d50_cfg()
    cfg.DATA.NUM_FRAMES = 1
    cfg.DATA.TRAIN_CROP_SIZE = crop
    cfg = compat.finalize_cfg(cfg)
    torch.manual_seed(0)
    return gta_slowfast.build_model(cfg)


def res5_features(model, clip):
    """Output of res5 of PySlowFast's ResNet for ``clip`` [N, 3, T, H, W]."""
    features = []
    handle = model.s5.register_forward_hook(lambda m, i, out: features.append(out[0]))
    with torch.no_grad():
        model([clip])
    handle.remove()
    return features[0]


@pytest.fixture(scope="module")
def resnet50_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tv") / "resnet50.pth"
    torch.save(torchvision_resnet_state(50), path)
    return path


@pytest.fixture(scope="module")
def converted(resnet50_file, tmp_path_factory):
    dst = tmp_path_factory.mktemp("sf") / "r2d50_imagenet.pyth"
    assert convert.main(["torchvision", "--src", str(resnet50_file), "--dst", str(dst)]) == 0
    return dst


def test_converted_names_shapes_and_counts(converted):
    checkpoint = torch.load(converted, weights_only=True)
    assert list(checkpoint) == ["model_state"]  # no epoch: training starts at 0, fresh optimizer
    state = checkpoint["model_state"]
    model_state = r2d50().state_dict()
    assert [k for k in model_state if k not in state] == [
        "head.projection.weight",
        "head.projection.bias",
    ]
    assert all(state[k].shape == model_state[k].shape for k in state)
    assert state["s1.pathway0_stem.conv.weight"].shape == (64, 3, 1, 7, 7)
    assert state["s3.pathway0_res0.branch2.b.weight"].shape == (128, 128, 1, 3, 3)
    assert int(state["s5.pathway0_res2.branch2.c_bn.num_batches_tracked"]) == 1000
    assert sum(t.dim() == 5 for t in state.values()) == 53


def test_cli_reports_what_was_converted(converted, resnet50_file, tmp_path, capsys):
    convert.main(["torchvision", "--src", str(resnet50_file), "--dst", str(tmp_path / "x.pyth")])
    out = capsys.readouterr().out
    assert "converted 318 tensors: 53 conv kernels" in out
    assert "212 batch-norm parameters and running statistics, 53 num_batches_tracked" in out
    assert "dropped 2: fc.weight [1000, 2048], fc.bias [1000]" in out
    assert "2 of its tensors not in the checkpoint: head.projection.* (2)" in out


def _load_and_compare(path, inflation):
    from slowfast.utils.checkpoint import load_checkpoint

    model = r2d50().double().eval()
    epoch = load_checkpoint(str(path), model, data_parallel=False, inflation=inflation)
    assert epoch == -1  # PySlowFast then starts training at epoch 0
    state = {k: v.double() for k, v in torchvision_resnet_state(50).items()}
    clip = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3)).double()
    expected = reference_resnet50(state, clip)
    got = res5_features(model, clip.unsqueeze(2))
    assert got.shape == (2, 2048, 1, 2, 2)
    torch.testing.assert_close(got.squeeze(2), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("inflation", [False, True])
@requires_main
def test_pyslowfast_main_loader_gives_torchvision_features(converted, inflation):
    _load_and_compare(converted, inflation)


@requires_snapshot
def test_pyslowfast_snapshot_loader_gives_torchvision_features(converted):
    _load_and_compare(converted, inflation=True)


@requires_snapshot
def test_snapshot_strict_loader_needs_inflate(converted):
    """Why the configs set CHECKPOINT_INFLATE: the snapshot's other path wants every tensor."""
    from slowfast.utils.checkpoint import load_checkpoint

    with pytest.raises(RuntimeError, match="head.projection.weight"):
        load_checkpoint(str(converted), r2d50(), data_parallel=False, inflation=False)


@pytest.mark.parametrize("wrap", ["state_dict", "model", "module"])
def test_wrapped_state_dicts_are_accepted(wrap):
    state = torchvision_resnet_state(50)
    if wrap == "module":
        obj = OrderedDict((f"module.{k}", v) for k, v in state.items())
    else:
        obj = {wrap: state, "epoch": 90}
    converted, dropped = convert_torchvision_resnet50(unwrap_state_dict(obj))
    assert len(converted) == 318 and dropped == ["fc.weight", "fc.bias"]


def test_state_dict_without_num_batches_tracked_is_accepted():
    state = {k: v for k, v in torchvision_resnet_state(50).items() if "num_batches" not in k}
    converted, _ = convert_torchvision_resnet50(state)
    assert len(converted) == 265


def test_resnet18_is_refused_naming_the_tensor():
    with pytest.raises(ValueError, match=r"tensor 'layer1.0.conv1.weight' has shape "
                       r"\[64, 64, 3, 3\], expected \[64, 64, 1, 1\]"):
        convert_torchvision_resnet50(torchvision_resnet_state(18))


def test_resnet101_is_refused_naming_the_first_extra_tensor():
    """Its 17 extra res4 blocks (18 tensors each) would otherwise be left out silently."""
    with pytest.raises(ValueError, match=r"unexpected tensor 'layer3.6.conv1.weight' "
                       r"\(shape \[256, 1024, 1, 1\]; 306 unexpected in all\)"):
        convert_torchvision_resnet50(torchvision_resnet_state(101))


def test_missing_layer_is_refused_naming_the_tensor(tmp_path, capsys):
    state = torchvision_resnet_state(50)
    for key in [k for k in state if k.startswith("layer4.2.")]:
        del state[key]
    src = tmp_path / "broken.pth"
    torch.save(state, src)
    with pytest.raises(SystemExit) as exit_info:
        convert.main(["torchvision", "--src", str(src), "--dst", str(tmp_path / "out.pyth")])
    assert exit_info.value.code == 2
    assert re.fullmatch(r"python -m gta_slowfast.tools.convert: error: .*broken.pth: not a "
                        r"torchvision ResNet-50: missing tensor 'layer4.2.conv1.weight' \(expected "
                        r"shape \[512, 2048, 1, 1\]\) \(--debug shows the traceback\)\n",
                        capsys.readouterr().err)
    assert not (tmp_path / "out.pyth").exists()


# ---------------------------------------------------------------------------------------------
# convert nonlocal


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return model_zoo_files(tmp_path_factory)


def test_convert_nonlocal_writes_a_complete_starting_point(files, tmp_path, capsys):
    src, nl = files["nl_2d"]
    target = cfg_of("gta")
    config = write_config(target, tmp_path / "gta.yaml")
    dst = tmp_path / "start.pyth"
    assert convert.main(["nonlocal", "--src", src, "--dst", str(dst), "--cfg", config]) == 0
    out = capsys.readouterr().out
    assert f"nl_2d.pyth (pytorch) -> {dst}" in out
    assert "not reused: 65 tensors of the source's non-local blocks: s3.pathway0_nonlocal1.* (13)" \
        in out
    assert "added blocks, as initialised (the identity: GTA.ZERO_INIT_FINAL_NORM True)" in out
    assert f"use: TRAIN.CHECKPOINT_FILE_PATH {dst} TRAIN.CHECKPOINT_TYPE pytorch" in out

    checkpoint = torch.load(dst, weights_only=True)
    assert set(checkpoint) == {"model_state", "cfg"}  # no epoch: training starts at epoch 0
    model = build(target, seed=6)
    report = ck.load_checkpoint(str(dst), model, mode="exact")  # the complete target model
    assert not report.unused and report.epoch == -1
    x = clip(target)
    torch.testing.assert_close(logits(model, x), logits(without_blocks(nl, "2d"), x),
                               rtol=0, atol=0)
    installed = build(target, seed=7)  # PySlowFast's loader, strict on the snapshot
    cu.load_checkpoint(str(dst), installed, data_parallel=False)
    assert torch.equal(logits(installed, x), logits(model, x))


def test_convert_nonlocal_to_dnl_with_another_class_count_from_caffe2(files, tmp_path, capsys):
    config = write_config(cfg_of("dnl"), tmp_path / "dnl.yaml")
    dst = tmp_path / "start.pyth"
    convert.main(["nonlocal", "--src", files["c2_2d"][0], "--type", "caffe2", "--dst", str(dst),
                  "--cfg", config, "MODEL.NUM_CLASSES", "174"])
    out = capsys.readouterr().out
    assert "(NONLOCAL.TYPE dnl)" in out
    assert "not reused: 60 tensors of the source's non-local blocks" in out
    assert "head, as initialised (not in the source, or of another shape there): " \
           "head.projection.weight (source [10, 256], target [174, 256])" in out
    state = torch.load(dst, weights_only=True)["model_state"]
    assert state["head.projection.bias"].shape == (174,)
    assert set(state) == set(build(cfg_of("dnl")).state_dict())  # the complete DNL model


def test_convert_nonlocal_refuses_another_architecture(files, tmp_path):
    config = write_config(cfg_of("gta"), tmp_path / "gta.yaml")
    with pytest.raises(ValueError,
                       match=r"(?s)does not fit the model.*15 tensors have another shape"):
        convert.main(["--debug", "nonlocal", "--src", files["plain_slowfast"][0], "--dst",
                      str(tmp_path / "x.pyth"), "--cfg", config])
    assert not (tmp_path / "x.pyth").exists()

