"""The visualisation on small models: the analysis against references, the command's files and
image sizes, the clip pipeline, errors."""

import os

import numpy as np
import pytest
import torch
from conftest import build, small_cfg
from PIL import Image

import gta_slowfast
from gta_slowfast.tools import visualize
from gta_slowfast.visualization import analysis, figures

FRAMES, CROP = 4, 32
PLACES = ["s3.pathway0_nonlocal1", "s4.pathway0_nonlocal5"]


def write_model(directory, variant, **kwargs):
    """A small config YAML and a PySlowFast-style checkpoint of its model."""
    cfg = small_cfg(variant, frames=FRAMES, crop=CROP, identity_init=False, **kwargs)
    cfg.OUTPUT_DIR = str(directory)
    cfg.DATA.TEST_CROP_SIZE = CROP  # the clip is read as the test reads it
    if "CROP_SIZE" not in gta_slowfast.get_cfg().DATA:  # small_cfg sets it for the snapshot
        cfg.DATA.pop("CROP_SIZE")
    cfg_path = directory / f"{variant}_{kwargs.get('arch', '2d')}.yaml"
    cfg_path.write_text(cfg.dump())
    checkpoint = directory / f"{variant}_{kwargs.get('arch', '2d')}.pyth"
    torch.save({"epoch": 3, "model_state": build(cfg).state_dict()}, checkpoint)
    return str(cfg_path), str(checkpoint)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    directory = tmp_path_factory.mktemp("models")
    return {variant: write_model(directory, variant) for variant in ("gta", "dnl")}


def write_video(path, num_frames=20, width=48, height=40):
    """A video whose frame i is a flat grey of level 10 * i."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(num_frames):
            image = np.full((height, width, 3), 10 * i, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def image_size(path):
    with Image.open(path) as image:
        return image.size


def expected_size(rows, cols, extra_width=0.0):
    width, height = figures.figure_size(rows, cols, extra_width)
    return round(width * figures.DPI), round(height * figures.DPI)


def temporal_size(map_rows, head_rows):
    width, height = figures.temporal_figure_size(map_rows, head_rows)
    return round(width * figures.DPI), round(height * figures.DPI)


def test_all_figures_for_gta_beside_dnl(models, tmp_path, capsys):
    gta_cfg, gta_ckpt = models["gta"]
    dnl_cfg, dnl_ckpt = models["dnl"]
    out = tmp_path / "figures"
    visualize.main(["--cfg", gta_cfg, "--checkpoint", gta_ckpt, "--compare-cfg", dnl_cfg,
                    "--compare-checkpoint", dnl_ckpt, "--random-clip", "--position", "10,20",
                    "--blocks", *PLACES, "--output-dir", str(out)])
    printed = capsys.readouterr().out.split()
    assert sorted(printed) == sorted(str(p) for p in out.iterdir())
    names = sorted(os.path.basename(p) for p in printed)
    assert names == sorted(
        [f"gta_2d_{place}_{branch}_matrices.png" for place in PLACES
         for branch in ("pixel", "region")]
        + [f"gta_2d_{place}_regions.png" for place in PLACES]
        + [f"temporal_{place}.png" for place in PLACES]
    )
    groups = small_cfg().GTA.GROUPS
    for path in printed:
        name = os.path.basename(path)
        if name.endswith("_matrices.png"):
            want = expected_size(groups, groups, figures.MATRIX_EXTRA)
        elif name.endswith("_regions.png"):
            want = expected_size(2, FRAMES, figures.REGION_EXTRA)
        else:  # DNL's map, GTA's pixel and region maps; GTA's pixel and region heads
            want = temporal_size(3, 2)
        assert image_size(path) == want, name


def test_default_output_dir_is_under_the_configs_output_dir(models, capsys):
    gta_cfg, gta_ckpt = models["gta"]
    visualize.main(["--cfg", gta_cfg, "--checkpoint", gta_ckpt, "--random-clip",
                    "--figures", "regions", "--blocks", PLACES[0]])
    (path,) = capsys.readouterr().out.split()
    assert path == os.path.join(os.path.dirname(gta_cfg), "visualize",
                                f"gta_2d_{PLACES[0]}_regions.png")


def test_without_checkpoint_the_last_one_of_output_dir_is_drawn(tmp_path):
    cfg_path, _ = write_model(tmp_path, "gta")
    cfg = gta_slowfast.load_config(cfg_path)
    (tmp_path / "checkpoints").mkdir()
    for epoch, seed in ((1, 1), (3, 5)):  # PySlowFast's test loads the last one
        torch.save({"epoch": epoch, "model_state": build(cfg, seed=seed).state_dict()},
                   tmp_path / "checkpoints" / f"checkpoint_epoch_{epoch:05d}.pyth")
    trained = build(cfg, seed=5).state_dict()
    _, model, was_trained = analysis.load_model(cfg_path, None, [])
    assert was_trained
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, trained[name], msg=name)


def test_slowfast_blocks_show_their_pathways_frames(tmp_path, capsys):
    cfg_path, checkpoint = write_model(tmp_path, "gta", arch="slowfast")
    visualize.main(["--cfg", cfg_path, "--checkpoint", checkpoint, "--random-clip",
                    "--figures", "regions", "--blocks", "s3.pathway0_nonlocal1",
                    "s3.pathway1_nonlocal1", "--output-dir", str(tmp_path / "out")])
    slow, fast = capsys.readouterr().out.split()
    # SlowFast at 4 frames: the Slow pathway's blocks see 1 frame, the Fast pathway's 4.
    assert image_size(slow) == expected_size(2, 1, figures.REGION_EXTRA)
    assert image_size(fast) == expected_size(2, FRAMES, figures.REGION_EXTRA)


def test_video_clip_is_the_tests_clip(tmp_path):
    video = tmp_path / "clip.mp4"
    write_video(video)
    cfg = small_cfg("gta", frames=FRAMES, crop=CROP)
    cfg.DATA.TEST_CROP_SIZE, cfg.DATA.TEMPORAL_SAMPLING = CROP, "tsn"
    clip = analysis.video_clip(str(video), cfg)
    for got, want in zip(clip.pathways, gta_slowfast.load_clip(str(video), cfg), strict=True):
        assert torch.equal(got, want)
    frames = clip.frames
    assert frames.shape == (FRAMES, CROP, CROP, 3) and frames.dtype == np.uint8
    # TSN's test view: the centres of 4 equal segments of 20 frames, frames 2, 7, 12, 17
    # (grey levels 10 x index).
    levels = frames.reshape(FRAMES, -1).mean(axis=1)
    np.testing.assert_allclose(levels, [20, 70, 120, 170], atol=6)


def test_figures_from_a_video(models, tmp_path, capsys):
    video = tmp_path / "clip.mp4"
    write_video(video)
    gta_cfg, gta_ckpt = models["gta"]
    visualize.main(["--cfg", gta_cfg, "--checkpoint", gta_ckpt, "--video", str(video),
                    "--figures", "regions", "temporal", "--blocks", PLACES[1],
                    "--output-dir", str(tmp_path / "out")])
    paths = capsys.readouterr().out.split()
    assert [os.path.basename(p) for p in paths] == [
        f"gta_2d_{PLACES[1]}_regions.png", f"temporal_{PLACES[1]}.png"
    ]
    assert image_size(paths[1]) == temporal_size(2, 2)  # GTA's maps and heads only


def test_inputs_are_normalised_and_packed_per_pathway():
    cfg = small_cfg("gta", arch="slowfast", frames=8, crop=CROP)
    mean, std = np.array(cfg.DATA.MEAN), np.array(cfg.DATA.STD)
    levels = np.round(mean * 255)  # uint8 frames nearest to the mean
    frames = np.broadcast_to(levels.astype(np.uint8), (8, CROP, CROP, 3))
    cfg.DATA.TEST_CROP_SIZE = CROP
    clip = analysis.frames_clip(np.ascontiguousarray(frames), cfg)
    inputs, indices = clip.pathways, clip.frame_indices
    assert [list(x.shape) for x in inputs] == [[1, 3, 2, CROP, CROP], [1, 3, 8, CROP, CROP]]
    assert indices == [[0, 7], list(range(8))]
    want = torch.tensor((levels / 255 - mean) / std, dtype=torch.float32).reshape(1, 3, 1, 1, 1)
    for x in inputs:
        torch.testing.assert_close(x, want.expand_as(x), atol=1e-6, rtol=0)
    np.testing.assert_array_equal(clip.frames, frames)  # shown as they came


def test_temporal_self_attention_is_the_blocks_own():
    from gta_slowfast.blocks import TemporalSelfAttention

    torch.manual_seed(0)
    block = TemporalSelfAttention(16, 8, num_frames=5, positional_encoding=True).double()
    x = torch.randn(1, 16, 5, 3, 4, dtype=torch.float64)
    t, c = 5, 16  # the encoding of Vaswani et al., written out
    pe = torch.zeros(1, c, t, 1, 1, dtype=torch.float64)
    for f in range(t):
        for i in range(0, c, 2):
            pe[0, i, f] = np.sin(f / 10000 ** (i / c))
            pe[0, i + 1, f] = np.cos(f / 10000 ** (i / c))
    xe = x + pe
    q = block.conv_q(xe)[0].permute(2, 3, 1, 0)  # [H, W, T, C']
    k = block.conv_k(xe)[0].permute(2, 3, 0, 1)  # [H, W, C', T]
    want = torch.softmax(q @ k * block.scale, dim=-1)  # [H, W, T, T]
    torch.testing.assert_close(analysis.mean_temporal_attention(block, x, (1, 3)), want[1, 3])
    torch.testing.assert_close(analysis.mean_temporal_attention(block, x), want.mean((0, 1)))
    maps = block.attention_map(x)  # [N, H, W, heads, groups, T, T]
    assert maps.shape == (1, 3, 4, 1, 1, 5, 5)
    torch.testing.assert_close(maps[0, :, :, 0, 0], want)
    torch.testing.assert_close(block.attention_map(x, (1, 3))[0, 0, 0], want[1, 3])


def make_subject(cfg_path, checkpoint):
    cfg, model, trained = analysis.load_model(cfg_path, checkpoint)
    return analysis.Subject("model", cfg, model, analysis.random_clip(cfg), trained)


def test_attention_map_applied_to_the_values_is_the_blocks_output():
    from gta_slowfast.blocks import TemporalSelfAttention

    torch.manual_seed(0)
    g, t = 2, 5
    block = TemporalSelfAttention(16, 8, num_frames=t, positional_encoding=True, groups=g)
    block = block.double().eval()
    torch.nn.init.normal_(block.bn.weight)  # not the identity
    torch.nn.init.normal_(block.bn.running_mean)
    x = torch.randn(2, 16, t, 3, 4, dtype=torch.float64)
    maps = block.attention_map(x)  # [N, H, W, head k, group j, T, T]
    assert maps.shape == (2, 3, 4, g, g, t, t)
    torch.testing.assert_close(maps.sum(-1), torch.ones_like(maps.sum(-1)))
    # Paper Eq. (7)-(8): head k is sum_j M_j^k V_j; V from the block's value projection of
    # the encoded input (encoding as in Vaswani et al.).
    pe = torch.zeros(1, 16, t, 1, 1, dtype=torch.float64)
    for f in range(t):
        for i in range(0, 16, 2):
            pe[0, i, f] = np.sin(f / 10000 ** (i / 16))
            pe[0, i + 1, f] = np.cos(f / 10000 ** (i / 16))
    v = block.conv_v(x + pe)  # [N, C' = (group, d), T, H, W]
    v = v.reshape(2, g, 8 // g, t, 3, 4).permute(0, 4, 5, 1, 3, 2)  # [N, H, W, group, T, d]
    heads = torch.einsum("nhwkjts,nhwjsd->nhwktd", maps, v)
    attended = heads.permute(0, 3, 5, 4, 1, 2).reshape(2, 8, t, 3, 4)  # channels (head, d)
    with torch.no_grad():
        want = x + block.bn(block.conv_out(attended))
        torch.testing.assert_close(block(x), want)
        torch.testing.assert_close(block.attention_map(x, (2, 1)), maps[:, 2, 1])


def test_a_place_name_is_made_and_read_back():
    from gta_slowfast.models import Place, parse_place_name, place_name

    assert place_name(1, 0, 1) == "s3.pathway0_nonlocal1" == PLACES[0]
    assert parse_place_name("s4.pathway1_nonlocal5") == Place(2, 1, 5)
    assert parse_place_name("s4.pathway0_nonlocal5.temporal").name == PLACES[1]
    assert parse_place_name("module.s3.pathway0_nonlocal1.conv_v.weight").name == PLACES[0]
    assert parse_place_name("s3.pathway0_res1") is None
    model = build(small_cfg("dnl", frames=FRAMES, crop=CROP))
    names = {parse_place_name(n).name for n, _ in model.named_modules() if parse_place_name(n)}
    assert names == {place_name(stage, 0, i) for stage, indices in ((1, [1, 3]), (2, [1, 3, 5]))
                     for i in indices}


def test_a_model_without_checkpoint_says_so_in_its_figures(tmp_path, monkeypatch, capsys):
    cfg_path, _ = write_model(tmp_path, "gta")  # no checkpoint in its OUTPUT_DIR
    titles = []
    for name in ("plot_matrices", "plot_regions", "plot_temporal"):
        plot = getattr(figures, name)
        monkeypatch.setattr(figures, name, lambda *a, plot=plot: titles.append(a[-2]) or plot(*a))
    visualize.main(["--cfg", cfg_path, "--random-clip", "--blocks", PLACES[0],
                    "--figures", "matrices", "regions", "--output-dir", str(tmp_path / "out")])
    assert len(capsys.readouterr().out.split()) == len(titles) == 3
    assert all("gta_2d (untrained weights)" in title for title in titles)
    # The temporal figure says it in the titles of its rows.
    subject = make_subject(cfg_path, None)
    rows, heads = subject.temporal_rows(PLACES[0])
    assert all("(untrained weights)" in row.title for row in rows + heads)
    (tmp_path / "trained").mkdir()
    trained = make_subject(*write_model(tmp_path / "trained", "gta"))
    assert "untrained" not in trained.label


def test_dominant_regions_count_each_frames_pixels():
    assign = np.zeros((3, 2, 2, 2))
    assign[1, 0] = 0.9  # frame 0: every pixel most likely in region 1
    assign[0, 1, 0], assign[2, 1, 1, 0], assign[1, 1, 1, 1] = 0.5, 0.6, 0.7
    assert figures.dominant_regions(assign) == [(1, 1.0), (0, 0.5)]


def test_dnl_map_of_the_reversed_clip_is_the_clips_map_flipped(models):
    cfg_path, checkpoint = models["dnl"]
    subject = make_subject(cfg_path, checkpoint)
    for position in (None, (10, 20)):
        (row,), heads = subject.temporal_rows(PLACES[1], position)
        assert not row.learned and heads == []
        assert np.abs(row.reversed - row.clip).max() > 1e-3  # the map itself is not symmetric
        np.testing.assert_array_equal(row.flipped, row.reversed[::-1, ::-1])
        np.testing.assert_allclose(row.flipped, row.clip, atol=1e-6)
        assert row.max_difference < 1e-6


def test_gta_maps_are_the_mean_of_the_parameter_and_heads_are_sorted(models):
    cfg_path, checkpoint = models["gta"]
    subject = make_subject(cfg_path, checkpoint)
    block = subject.gta[PLACES[0]][0]
    map_rows, head_rows = subject.temporal_rows(PLACES[0], None)
    assert [r.learned for r in map_rows] == [True, True]
    for row, heads, branch in zip(map_rows, head_rows, ("pixel", "region")):
        g = block.groups
        # [G*G, T, T], matrix k * G + j = M_j^k (head k, group j)
        weight = getattr(block, f"{branch}_attention").detach().double()
        weight = weight.reshape(g, g, FRAMES, FRAMES)
        mean = sum(weight[k, j] for k in range(g) for j in range(g)) / g**2
        np.testing.assert_allclose(row.clip, mean.numpy(), rtol=1e-12)
        np.testing.assert_array_equal(row.reversed, row.clip)  # input-independent
        np.testing.assert_array_equal(row.flipped, mean.flip(0, 1).numpy())
        assert sorted(heads.order) == list(range(g))
        assert heads.asymmetry == sorted(heads.asymmetry, reverse=True)
        for matrix, k in zip(heads.heads, heads.order):
            np.testing.assert_allclose(matrix, weight[k].mean(0).numpy(), rtol=1e-12)


def test_reversal_asymmetry():
    m = torch.randn(6, 6, dtype=torch.float64)
    assert analysis.reversal_asymmetry(m + m.flip(0, 1)) == pytest.approx(0.0, abs=1e-12)
    assert analysis.reversal_asymmetry(m - m.flip(0, 1)) == pytest.approx(1.0)
    assert analysis.reversal_asymmetry(torch.zeros(3, 3)) == 0.0
    causal = torch.tril(torch.ones(4, 4))  # each frame mixes the frames before it
    # flip(M) is upper triangular: the 12 off-diagonal ones differ, |M| = sqrt(10).
    assert analysis.reversal_asymmetry(causal) == pytest.approx(12**0.5 / (2 * 10**0.5))


def test_region_map_is_white_at_uniform_and_the_region_colour_when_certain():
    colours = figures.region_colours(4)
    assign = np.full((4, 1, 3), 0.25)  # three pixels: uniform, certain of region 2, halfway
    assign[:, 0, 1] = [0, 0, 1, 0]
    assign[:, 0, 2] = [0.125, 0.125, 0.625, 0.125]
    image = figures.region_map(assign, colours)
    np.testing.assert_allclose(image[0, 0], [1, 1, 1])
    np.testing.assert_allclose(image[0, 1], colours[2])
    np.testing.assert_allclose(image[0, 2], 0.5 + 0.5 * colours[2])
    assert len({tuple(c) for c in figures.region_colours(9)}) == 9
    assert all(np.ptp(c) > 0.1 for c in figures.region_colours(9))  # no grey


def test_missing_checkpoint_is_named(models, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*nope\.pyth does not exist"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint",
                        str(tmp_path / "nope.pyth"), "--random-clip"])


def test_missing_video_is_named(models, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"video '.*none\.mp4' does not exist"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint", models["gta"][1],
                        "--video", str(tmp_path / "none.mp4")])


def test_unreadable_video_is_named(models, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ValueError, match=r"video .*bad\.mp4 cannot be decoded"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint", models["gta"][1],
                        "--video", str(bad)])


def test_checkpoint_of_another_architecture_is_named(models):
    with pytest.raises(ValueError, match=r"(?s)config .*gta_2d\.yaml: checkpoint .*dnl_2d\.pyth "
                       r"does not fit the model.*conv_v.weight: checkpoint \[16, 64, 1, 1, 1\], "
                       r"model \[32, 64, 1, 1, 1\].*not in it: s3.pathway0_nonlocal1"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint", models["dnl"][1],
                        "--random-clip"])


def test_checkpoint_without_model_state_is_named(models, tmp_path):
    plain = tmp_path / "plain.pyth"
    torch.save({"state_dict": {}}, plain)
    with pytest.raises(ValueError, match=r"checkpoint .*plain\.pyth is not a PySlowFast "
                       r"checkpoint: expected a dict with a 'model_state' dict .* found a dict "
                       r"with keys \['state_dict'\]"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint", str(plain),
                        "--random-clip"])


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_that_pickles_code_is_refused_without_running_it(models, tmp_path):
    marker, evil = tmp_path / "ran", tmp_path / "evil.pyth"
    state = torch.load(models["gta"][1], weights_only=True)
    state["cfg"] = _Exploit(str(marker))
    torch.save(state, evil)
    with pytest.raises(ValueError, match=r"evil\.pyth could not be read .*Unsupported global"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint", str(evil),
                        "--random-clip"])
    assert not marker.exists()


def test_position_outside_the_clip_is_rejected(models):
    with pytest.raises(ValueError, match=r"--position 0,32: y and x must be in \[0, 32\)"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint", models["gta"][1],
                        "--random-clip", "--position", "0,32"])
    with pytest.raises(ValueError, match=r"--position: expected 'y,x'"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint", models["gta"][1],
                        "--random-clip", "--position", "1,2,3"])


def test_model_without_attention_blocks_is_rejected(tmp_path):
    cfg_path, checkpoint = write_model(tmp_path, "nonlocal")
    with pytest.raises(ValueError, match=r"no GTA or temporal self-attention block.*nonlocal"):
        visualize.main(["--debug", "--cfg", cfg_path, "--checkpoint", checkpoint, "--random-clip"])


def test_unknown_block_place_lists_the_known_ones(models):
    with pytest.raises(ValueError, match=r"--blocks \['s9.x'\]: no GTA .*'s3.pathway0_nonlocal1'"):
        visualize.main(["--debug", "--cfg", models["gta"][0], "--checkpoint", models["gta"][1],
                        "--random-clip", "--blocks", "s9.x"])
