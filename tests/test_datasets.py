"""The release datasets (gta_ssv1, gta_ssv2, gta_kinetics) on tiny fake releases in the official
layouts, through PySlowFast's own dataset registry."""

import json
import logging
import os
import random
import shutil

import numpy as np
import pytest
import torch
from conftest import CONFIGS
from releases import (
    SS_CLASSES,
    bar_motion,
    bar_positions,
    direction_of,
    frames_of,
    make_kinetics,
    make_ssv1,
    make_ssv2,
    write_video,
)
from slowfast.datasets.build import build_dataset

import gta_slowfast
from gta_slowfast import compat
from gta_slowfast.datasets import decoding, sampling, transforms
from gta_slowfast.datasets.video_dataset import ReleaseError

ITEM_LENGTH = 5 if compat.GENERATION == "main" else 4
SMALL = ["TSN.RESIZE", "[60, 80]", "DATA.TRAIN_CROP_SIZE", "56", "DATA.TEST_CROP_SIZE", "56"]


@pytest.fixture(scope="session")
def ssv1_root(tmp_path_factory):
    return make_ssv1(str(tmp_path_factory.mktemp("ssv1")))


@pytest.fixture(scope="session")
def ssv2_root(tmp_path_factory):
    return make_ssv2(str(tmp_path_factory.mktemp("ssv2")))


@pytest.fixture(scope="session")
def kinetics_root(tmp_path_factory):
    return make_kinetics(str(tmp_path_factory.mktemp("kinetics")))


def ss_cfg(version, root, *opts):
    return gta_slowfast.load_config(
        os.path.join(CONFIGS, f"SSv{version}", "R2D_R50_GTA_8x1.yaml"),
        ["DATA.PATH_TO_DATA_DIR", root, "MODEL.NUM_CLASSES", str(len(SS_CLASSES)), "NUM_GPUS", "0"]
        + SMALL + list(opts),
    )


def unnormalise_args(cfg):
    return torch.tensor(cfg.DATA.MEAN).view(3, 1, 1, 1), torch.tensor(cfg.DATA.STD).view(3, 1, 1, 1)


# ---------------------------------------------------------------- layouts, labels, items


@pytest.mark.parametrize("version", [1, 2])
def test_something_something_split_sizes_and_labels(version, ssv1_root, ssv2_root):
    root = ssv1_root if version == 1 else ssv2_root
    cfg = ss_cfg(version, root)
    train = build_dataset(cfg.TRAIN.DATASET, cfg, "train")
    val = build_dataset(cfg.TRAIN.DATASET, cfg, "val")
    assert (len(train), len(val)) == (2 * len(SS_CLASSES), len(SS_CLASSES))
    if version == 1:  # names sorted, as TSM indexes SSv1 (DATA.LABEL_ORDER sorted)
        expected_names = sorted(SS_CLASSES)
    else:  # indices from something-something-v2-labels.json
        with open(os.path.join(root, "something-something-v2-labels.json")) as f:
            expected_names = [n for n, _ in sorted(json.load(f).items(), key=lambda x: int(x[1]))]
    assert train.class_names == expected_names
    # each video's label is the index of its class name in the release's own label file
    if version == 1:
        with open(os.path.join(root, "something-something-v1-train.csv")) as f:
            listed = [tuple(line.split(";", 1)) for line in f.read().splitlines()]
    else:
        with open(os.path.join(root, "something-something-v2-train.json")) as f:
            listed = [(v["id"], v["template"].replace("[", "").replace("]", ""))
                      for v in json.load(f)]
    assert [(e.video_id, e.label) for e in train.split.entries] == [
        (vid, expected_names.index(name)) for vid, name in listed
    ]


def test_ssv1_label_order_file_keeps_the_files_order(ssv1_root):
    cfg = ss_cfg(1, ssv1_root, "DATA.LABEL_ORDER", "file")
    assert build_dataset("gta_ssv1", cfg, "train").class_names == SS_CLASSES


@pytest.mark.parametrize("version", [1, 2])
def test_items_are_what_the_trainer_expects(version, ssv1_root, ssv2_root):
    cfg = ss_cfg(version, ssv1_root if version == 1 else ssv2_root)
    for mode in ("train", "val", "test"):
        item = build_dataset(cfg.TRAIN.DATASET, cfg, mode)[3]
        assert len(item) == ITEM_LENGTH
        frames, label, index = item[:3]
        assert isinstance(frames, list) and len(frames) == 1
        assert frames[0].shape == (3, 8, 56, 56)
        assert frames[0].dtype == torch.float32
        assert index == 3 and 0 <= label < len(SS_CLASSES)
        assert item[-1] == {"unreadable": 0}


def test_slowfast_config_packs_two_pathways(ssv2_root):
    cfg = gta_slowfast.load_config(
        os.path.join(CONFIGS, "SSv2", "SLOWFAST_16x8_R50_GTA.yaml"),
        ["DATA.PATH_TO_DATA_DIR", ssv2_root, "MODEL.NUM_CLASSES", "6", "NUM_GPUS", "0",
         "DATA.TRAIN_JITTER_SCALES", "[64, 72]", "DATA.TRAIN_CROP_SIZE", "56",
         "DATA.TEST_CROP_SIZE", "56"],
    )
    assert not cfg.TSN.ENABLE
    for mode in ("train", "test"):
        slow, fast = build_dataset("gta_ssv2", cfg, mode)[0][0]
        assert fast.shape == (3, 64, 56, 56) and slow.shape == (3, 16, 56, 56)


def test_mean_std_and_reverse_input_channel_are_honoured(ssv1_root):
    cfg = ss_cfg(1, ssv1_root)
    rgb = build_dataset("gta_ssv1", cfg, "val")[0][0][0]
    cfg = ss_cfg(1, ssv1_root, "DATA.REVERSE_INPUT_CHANNEL", "True", "DATA.MEAN", "[0.0, 0.0, 0.0]",
                 "DATA.STD", "[1.0, 1.0, 1.0]")
    bgr = build_dataset("gta_ssv1", cfg, "val")[0][0][0]
    mean, std = unnormalise_args(ss_cfg(1, ssv1_root))
    torch.testing.assert_close(bgr, (rgb * std + mean).flip(0), atol=1e-5, rtol=0)


@pytest.mark.parametrize("extension", ["mp4", "mkv", "webm"])
def test_kinetics_videos_decode_in_every_container(extension, kinetics_root):
    cfg = gta_slowfast.load_config(
        os.path.join(CONFIGS, "Kinetics", "R2D_R50_GTA_8x8.yaml"),
        ["DATA.PATH_TO_DATA_DIR", kinetics_root, "DATA.PATH_PREFIX", kinetics_root,
         "MODEL.NUM_CLASSES", "6", "NUM_GPUS", "0", "DATA.TRAIN_JITTER_SCALES", "[64, 72]",
         "DATA.TRAIN_CROP_SIZE", "56", "DATA.TEST_CROP_SIZE", "56"],
    )
    for mode in ("train", "test"):
        dataset = build_dataset("gta_kinetics", cfg, mode)
        views = 30 if mode == "test" else 1
        assert len(dataset) == 6 * views
        video = next(i for i, e in enumerate(dataset.split.entries) if e.path.endswith(extension))
        frames, label = dataset[video * views][:2]
        assert frames[0].shape == (3, 8, 56, 56) and label == dataset.split.entries[video].label


# ---------------------------------------------------------------- sampling


def test_dense_indices_follow_pyslowfast():
    from slowfast.datasets import decoder

    frames = torch.arange(300).view(300, 1, 1, 1)
    for clip_idx in range(10):
        start, end = decoder.get_start_end_idx(300, 64 * 30 / 30, clip_idx, 10)[:2]  # main adds one
        expected = decoder.temporal_sampling(frames, start, end, 8).flatten().tolist()
        assert sampling.dense_indices(300, 8, 8, 30.0, 30, clip_idx, 10).tolist() == expected


def test_three_test_crops_are_distinct(ssv2_root):
    cfg = ss_cfg(2, ssv2_root, "TEST.NUM_SPATIAL_CROPS", "3")
    dataset = build_dataset("gta_ssv2", cfg, "test")
    crops = [dataset[i][0][0] for i in range(3)]
    assert not torch.equal(crops[0], crops[1]) and not torch.equal(crops[1], crops[2])


# ---------------------------------------------------------------- flips


def motions(dataset, draws):
    """[(entry, label returned, motion seen, mean bar position)] over ``draws`` passes of every
    training item."""
    out = []
    for _ in range(draws):
        for i in range(len(dataset)):
            frames, label = dataset[i][:2]
            out.append((dataset.split.entries[i], label, bar_motion(frames[0]),
                        bar_positions(frames[0]).mean().item()))
    return out


def test_directional_classes_are_never_flipped_against_their_label(ssv1_root):
    cfg = ss_cfg(1, ssv1_root, "TSN.SCALES", "[1.0]")
    assert cfg.DATA.RANDOM_FLIP and cfg.DATA.DIRECTIONAL_FLIP == "skip"
    dataset = build_dataset("gta_ssv1", cfg, "train")
    torch.manual_seed(0)
    seen = motions(dataset, 6)
    names = dataset.class_names
    for entry, label, motion, _ in seen:
        assert label == entry.label
        expected = direction_of(names[label])
        if expected:
            assert motion == expected, names[label]
    # the other classes are flipped: their standing bar at 1/4 of the width shows at 3/4
    static = [x for _, label, _, x in seen if direction_of(names[label]) == 0]
    assert min(static) < 0.4 and max(static) > 0.6


def test_swap_policy_flips_directional_clips_into_their_twin(ssv1_root):
    cfg = ss_cfg(1, ssv1_root, "TSN.SCALES", "[1.0]", "DATA.DIRECTIONAL_FLIP", "swap")
    dataset = build_dataset("gta_ssv1", cfg, "train")
    seen = motions(dataset, 6)
    names = dataset.class_names
    swapped = 0
    for entry, label, motion, _ in seen:
        if direction_of(names[label]):
            assert motion == direction_of(names[label]), names[label]
            swapped += label != entry.label
    assert swapped > 0


def test_flip_label_maps():
    names = ["Pushing something from left to right", "Pushing something from right to left",
             "Turning the camera left while filming something", "Holding something"]
    assert transforms.flip_label_map(names, "skip") == {0: None, 1: None, 2: None, 3: 3}
    assert transforms.flip_label_map(names, "swap") == {0: 1, 1: 0, 2: None, 3: 3}
    assert transforms.flip_label_map(names, "flip") == {0: 0, 1: 1, 2: 2, 3: 3}
    with pytest.raises(ValueError, match="DATA.DIRECTIONAL_FLIP='sometimes'"):
        transforms.flip_label_map(names, "sometimes")


# ---------------------------------------------------------------- a wrong or broken release


def broken_copy(src, dst, edit):
    shutil.copytree(src, dst)
    edit(dst)
    return dst


@pytest.mark.parametrize(
    "version, edit, message",
    [
        (1, lambda r: os.remove(os.path.join(r, "something-something-v1-labels.csv")),
         "something-something-v1-labels.csv does not exist"),
        (2, lambda r: os.remove(os.path.join(r, "something-something-v2-labels.json")),
         r"holds no Something-Something v2 labels file: expected "
         r"something-something-v2-labels.json or labels/labels.json"),
        (1, lambda r: open(os.path.join(r, "something-something-v1-train.csv"), "a").write(
            "999;Juggling something\n"),
         "something-something-v1-train.csv:13: video 999 has class 'Juggling something'"),
        (2, lambda r: json.dump(
            json.load(open(os.path.join(r, "something-something-v2-train.json")))
            + [{"id": "999", "template": "Juggling [something]"}],
            open(os.path.join(r, "something-something-v2-train.json.tmp"), "w"))
         or os.replace(os.path.join(r, "something-something-v2-train.json.tmp"),
                       os.path.join(r, "something-something-v2-train.json")),
         "video 999 has class 'Juggling something'"),
        (1, lambda r: shutil.rmtree(os.path.join(r, "20bn-something-something-v1", "3")),
         r"1 of 12 videos listed in .*something-something-v1-train.csv have no frame folders, "
         r"first: 3: .*20bn-something-something-v1/3"),
        (2, lambda r: os.remove(os.path.join(r, "20bn-something-something-v2", "5.webm")),
         r"1 of 12 videos .* have no video files, first: 5: .*5\.webm"),
    ],
)
def test_a_wrong_release_is_named(version, edit, message, ssv1_root, ssv2_root, tmp_path):
    root = broken_copy(ssv1_root if version == 1 else ssv2_root, str(tmp_path / "release"), edit)
    with pytest.raises(ReleaseError, match=message):
        build_dataset(f"gta_ssv{version}", ss_cfg(version, root), "train")


def test_ssv2_label_files_under_labels_are_read_alike(ssv2_root, tmp_path):
    def move(root):
        os.makedirs(os.path.join(root, "labels"))
        for role in ("labels", "train", "validation", "test"):
            os.replace(os.path.join(root, f"something-something-v2-{role}.json"),
                       os.path.join(root, "labels", f"{role}.json"))

    root = broken_copy(ssv2_root, str(tmp_path / "release"), move)
    for mode in ("train", "val"):
        theirs = build_dataset("gta_ssv2", ss_cfg(2, ssv2_root), mode)
        ours = build_dataset("gta_ssv2", ss_cfg(2, root), mode)
        assert ours.class_names == theirs.class_names
        assert [(e.video_id, e.label) for e in ours.split.entries] == \
            [(e.video_id, e.label) for e in theirs.split.entries]
        assert ours.split.sources[0].endswith(os.path.join("labels", "train.json" if mode ==
                                                           "train" else "validation.json"))
    os.remove(os.path.join(root, "labels", "validation.json"))
    with pytest.raises(ReleaseError, match=r"holds no Something-Something v2 validation file: "
                                           r"expected something-something-v2-labels.json with "
                                           r"something-something-v2-validation.json or "
                                           r"labels/labels.json with labels/validation.json"):
        build_dataset("gta_ssv2", ss_cfg(2, root), "val")


def test_class_count_unlike_the_label_file_is_named(ssv2_root):
    cfg = ss_cfg(2, ssv2_root, "MODEL.NUM_CLASSES", "174")
    with pytest.raises(ReleaseError, match="MODEL.NUM_CLASSES=174, but the label file of gta_ssv2 "
                                           "names 6 classes"):
        build_dataset("gta_ssv2", cfg, "train")


def test_a_broken_video_is_logged_replaced_and_counted(ssv2_root, tmp_path, caplog):
    root = broken_copy(ssv2_root, str(tmp_path / "release"), lambda r: open(
        os.path.join(r, "20bn-something-something-v2", "1.webm"), "wb").write(b"not a video"))
    cfg = ss_cfg(2, root)
    dataset = build_dataset("gta_ssv2", cfg, "train")
    with caplog.at_level(logging.WARNING):
        item = dataset[0]
    assert item[-1]["unreadable"] >= 1
    assert "1.webm" in caplog.text and "replaced" in caplog.text
    assert item[2] != 0  # another video's item, as PySlowFast's datasets replace it
    os.remove(os.path.join(root, "20bn-something-something-v2", "13.webm"))  # validation's first
    open(os.path.join(root, "20bn-something-something-v2", "13.webm"), "wb").write(b"\0")
    test = build_dataset("gta_ssv2", cfg, "test")
    with pytest.raises(RuntimeError, match="13.webm"):  # a test score is never another video's
        test[0]


# ---------------------------------------------------------------- decoding and transforms
# against plain references written here: every frame decoded from the start with PyAV, the
# clip normalised and resized with torch as PySlowFast's transforms do.


def full_decode(path):
    """Every frame of a video, decoded from the start and converted to RGB (plain PyAV)."""
    import av

    with av.open(path) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


@pytest.fixture(scope="session")
def coded_videos(tmp_path_factory):
    """30-frame videos: H.264 .mp4 with a key frame every 8 frames and B-frames, VP9 .webm
    (no frame count in the header), MPEG-4 .mkv."""
    folder = tmp_path_factory.mktemp("coded")
    frames = frames_of(30, 1)
    videos = {}
    for ext, codec, options in (("mp4", "libx264", {"g": "8", "bf": "2"}),
                                ("webm", "libvpx-vp9", None), ("mkv", "mpeg4", {"g": "8"})):
        path = str(folder / f"clip.{ext}")
        write_video(path, frames, codec, fps=30, options=options)
        videos[ext] = path
    return videos


@pytest.mark.parametrize("ext", ["mp4", "webm", "mkv"])
@pytest.mark.parametrize("index", [[0], [29], [3, 4, 5], [9, 12, 17, 17, 25], [17, 8, 27],
                                   list(range(30)), [16, 16, 16]])
def test_video_frames_equal_a_full_decode(ext, index, coded_videos):
    path = coded_videos[ext]
    reference = full_decode(path)
    counts = []

    def choose(num_frames, fps):
        counts.append(num_frames)
        return torch.tensor(index)

    frames, count, fps = decoding.read_video_file(path, choose)
    assert counts == [len(reference)] and count == len(reference) and fps == 30.0
    assert torch.equal(frames, torch.from_numpy(np.stack([reference[i] for i in index])))


def test_decoding_starts_at_the_key_frame_before_the_first_frame_needed(coded_videos):
    import av

    from gta_slowfast.benchmark import data as benchmark_data

    class Packets(list):
        """The packets, noting where decoding starts (the slice taken)."""

        def __getitem__(self, key):
            if isinstance(key, slice):
                self.start = key.start
            return super().__getitem__(key)

    path = coded_videos["mp4"]
    with av.open(path) as container:  # key frames every 8 frames
        stream = container.streams.video[0]
        packets = Packets(p for p in container.demux(stream) if p.size)
        kept = decoding.decode_frames(stream, packets, [17, 20], path)
        key_16 = sorted(p.pts for p in packets)[16]
        assert packets[packets.start].is_keyframe and packets[packets.start].pts == key_16
    reference = full_decode(path)
    assert all(np.array_equal(kept[i], reference[i]) for i in (17, 20))
    # The benchmark's limit decodes the same span: from key frame 16 to frame 20; a .webm from
    # frame 0.
    pts, fps = benchmark_data.video_timeline(path)
    assert fps == 30.0 and benchmark_data.limit_video(path, pts[17], pts[20], seek=True) == 5
    pts, _ = benchmark_data.video_timeline(coded_videos["webm"])
    assert benchmark_data.limit_video(coded_videos["webm"], pts[17], pts[20], seek=False) == 21


def reference_clip(cfg, frames, train, spatial_idx, label, flip_map):
    """The clip as normalise-then-resize with torch: float normalisation, [C, T, H, W],
    F.interpolate (bilinear, half-pixel centres, as PySlowFast's scale jitter), TSN or
    PySlowFast's own crops, the same random draws in the same order."""
    import torch.nn.functional as F
    from slowfast.datasets import transform as sf_transform

    def bilinear(x, size):
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    x = (frames.float() / 255.0 - torch.tensor(cfg.DATA.MEAN)) / torch.tensor(cfg.DATA.STD)
    x = x.permute(3, 0, 1, 2)
    size = cfg.DATA.TRAIN_CROP_SIZE if train else cfg.DATA.TEST_CROP_SIZE
    if cfg.TSN.ENABLE:
        x = bilinear(x, tuple(cfg.TSN.RESIZE))
        if not train:
            return sf_transform.uniform_crop(x, size, spatial_idx)[0], label
        y0, x0, h, w = transforms.multiscale_crop_box(*cfg.TSN.RESIZE, cfg.TSN.SCALES,
                                                      cfg.TSN.MAX_DISTORT, size)
        x = bilinear(x[..., y0:y0 + h, x0:x0 + w], (size, size))
    elif train:
        x = sf_transform.random_short_side_scale_jitter(x, *cfg.DATA.TRAIN_JITTER_SCALES)[0]
        x = sf_transform.random_crop(x, size)[0]
    else:
        x = sf_transform.random_short_side_scale_jitter(x, size, size)[0]
        return sf_transform.uniform_crop(x, size, spatial_idx)[0], label
    target = flip_map.get(label, label)
    if target is None or random.random() < 0.5:
        return x, label
    return x.flip(-1), target


@pytest.mark.parametrize("recipe", ["tsn", "dense"])
def test_clips_equal_normalise_then_resize_in_torch(recipe):
    from gta_slowfast.datasets.video_dataset import prepare_clip

    if recipe == "tsn":
        cfg = gta_slowfast.load_config(os.path.join(CONFIGS, "SSv1", "R2D_R50_8x1.yaml"), [])
        shape = (8, 100, 176, 3)
    else:
        cfg = gta_slowfast.load_config(os.path.join(CONFIGS, "Kinetics", "R2D_R50_8x8.yaml"),
                                       ["DATA.TRAIN_JITTER_SCALES", "[64, 80]",
                                        "DATA.TRAIN_CROP_SIZE", "56", "DATA.TEST_CROP_SIZE", "64"])
        shape = (8, 72, 96, 3)
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8))
    flip_map = {0: 0, 1: 1}
    views = [(True, -1, label) for label in (0, 1) for _ in range(4)]
    views += [(False, spatial, 0) for spatial in (0, 1, 2)]
    for k, (train, spatial, label) in enumerate(views):
        states = []
        for run in (prepare_clip, reference_clip):
            random.seed(k)
            np.random.seed(k)
            got, got_label = run(cfg, frames, train, spatial, label, flip_map)
            states.append((got[0] if isinstance(got, list) else got, got_label))
        (clip, clip_label), (expected, expected_label) = states
        assert clip_label == expected_label and clip.shape == expected.shape
        # float32 rounding of the sampling positions and weights only: on noise (the steepest
        # gradients there are) at most 2e-4 in normalised units = 0.011 grey levels, a
        # hundredth of the input's own 8-bit step (1 / 255 / 0.225 = 0.017).
        torch.testing.assert_close(clip, expected, atol=2e-4, rtol=0)


def test_normalisation_is_exactly_the_float_formula():
    frames = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (3, 6, 10, 3),
                                                                dtype=np.uint8))
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    expected = ((frames.float() / 255.0 - torch.tensor(mean)) / torch.tensor(std))
    assert torch.equal(transforms.normalise(frames, mean, std), expected.permute(3, 0, 1, 2))
    view = frames[:, 1:5, ::2]  # not contiguous
    assert torch.equal(transforms.normalise(view, mean, std),
                       expected[:, 1:5, ::2].permute(3, 0, 1, 2))
    with pytest.raises(ValueError, match=r"frames must be uint8 \[T, H, W, C\], got "
                                         r"torch.float32 \[3, 6, 10, 3\]"):
        transforms.normalise(frames.float(), mean, std)


# ---------------------------------------------------------------- the data command


def run_data_tool(capsys, *argv):
    from gta_slowfast.tools import data

    try:
        code = data.main(list(argv))
    except SystemExit as exit_info:  # a user error: one line on stderr
        code = exit_info.code
    out = capsys.readouterr()
    return code, out.out, out.err


def test_data_command_counts_a_complete_release(ssv2_root, capsys):
    code, out, err = run_data_tool(
        capsys, "--cfg", os.path.join(CONFIGS, "SSv2", "R2D_R50_GTA_8x1.yaml"),
        "DATA.PATH_TO_DATA_DIR", ssv2_root, "MODEL.NUM_CLASSES", "6")
    assert code == 0, out + err
    assert "train: 12 videos, 6 classes in the label file, 6 used, 0 missing, 0 unreadable" in out
    assert "val: 6 videos, 6 classes in the label file, 6 used, 0 missing, 0 unreadable" in out
    assert ("submission: 6 videos, 6 classes in the label file, 0 used, 0 missing, "
            "0 unreadable") in out


def test_data_command_lists_missing_and_unreadable_videos(ssv1_root, tmp_path, capsys):
    def edit(root):
        shutil.rmtree(os.path.join(root, "20bn-something-something-v1", "2"))
        with open(os.path.join(root, "20bn-something-something-v1", "4", "00001.jpg"), "wb") as f:
            f.write(b"not a jpeg")
        os.rename(os.path.join(root, "20bn-something-something-v1", "5", "00001.jpg"),
                  os.path.join(root, "20bn-something-something-v1", "5", "notes.txt"))
        for name in os.listdir(os.path.join(root, "20bn-something-something-v1", "5")):
            if name.endswith(".jpg"):
                os.remove(os.path.join(root, "20bn-something-something-v1", "5", name))

    root = broken_copy(ssv1_root, str(tmp_path / "release"), edit)
    code, out, err = run_data_tool(
        capsys, "--cfg", os.path.join(CONFIGS, "SSv1", "R2D_R50_GTA_8x1.yaml"),
        "--splits", "train", "DATA.PATH_TO_DATA_DIR", root)
    assert code == 1
    assert "train: 12 videos, 6 classes in the label file, 6 used, 1 missing, 2 unreadable" in out
    assert "MODEL.NUM_CLASSES=174 differs from the label file's 6" in out
    assert "missing: 2: " in out and "/4/00001.jpg cannot be read" in out and "/5 holds no" in out
    assert "decoding" in err  # the progress bar


def test_data_command_names_a_wrong_release(tmp_path, capsys):
    code, out, err = run_data_tool(
        capsys, "--cfg", os.path.join(CONFIGS, "SSv1", "R2D_R50_GTA_8x1.yaml"),
        "DATA.PATH_TO_DATA_DIR", str(tmp_path))
    assert code == 2
    assert "something-something-v1-labels.csv does not exist" in err


# ---------------------------------------------------------------- the launcher's pre-flight


def test_preflight_names_a_wrong_release_before_any_worker(ssv1_root, tmp_path):
    from gta_slowfast.engine import launch

    root = broken_copy(
        ssv1_root, str(tmp_path / "release"),
        lambda r: shutil.rmtree(os.path.join(r, "20bn-something-something-v1", "14")))
    cfg = ss_cfg(1, root, "TRAIN.CHECKPOINT_FILE_PATH", "", "OUTPUT_DIR", str(tmp_path / "out"))
    with pytest.raises(ReleaseError, match=r"1 of 6 videos listed in .*validation.csv"):
        launch.preflight(cfg)


def test_preflight_says_the_imagenet_start_is_missing(ssv1_root, tmp_path, monkeypatch):
    from gta_slowfast.engine import launch

    monkeypatch.chdir(tmp_path)
    cfg = ss_cfg(1, ssv1_root, "OUTPUT_DIR", str(tmp_path / "out"))
    assert cfg.TRAIN.CHECKPOINT_FILE_PATH == "r2d50_imagenet.pyth"
    with pytest.raises(FileNotFoundError,
                       match=r"r2d50_imagenet.pyth' does not exist: this config starts R2D-50 "
                             r"from ImageNet.*tools.convert torchvision"):
        launch.preflight(cfg)


def test_tsn_keys_with_a_dataset_that_ignores_them_are_refused(ssv1_root, tmp_path):
    from gta_slowfast.engine import launch

    cfg = ss_cfg(1, ssv1_root, "TRAIN.DATASET", "kinetics", "TRAIN.CHECKPOINT_FILE_PATH", "")
    with pytest.raises(ReleaseError, match="TSN.ENABLE is True, but dataset 'kinetics'"):
        launch.preflight(cfg)


@pytest.mark.parametrize("dataset, rule, message", [
    ("kinetics", "ssv2", r"DATA.TEMPORAL_SAMPLING='ssv2', but dataset 'kinetics' samples frames "
                         r"its own way; .* or set DATA.TEMPORAL_SAMPLING dense"),
    ("synthetic", "tsn", r"DATA.TEMPORAL_SAMPLING='tsn', but dataset 'synthetic'"),
])
def test_a_temporal_sampling_a_dataset_ignores_is_refused(ssv1_root, dataset, rule, message):
    from gta_slowfast.datasets.checks import check_recipe_keys

    cfg = ss_cfg(1, ssv1_root, "TSN.ENABLE", "False", "DATA.TEMPORAL_SAMPLING", rule)
    with pytest.raises(ReleaseError, match=message):
        check_recipe_keys(cfg, dataset)
    cfg.DATA.TEMPORAL_SAMPLING = "dense"
    check_recipe_keys(cfg, dataset)


# ---------------------------------------------------------------- run_net on each release


def run_net(*args):
    import subprocess
    import sys

    from conftest import REPO

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "projects", "gta", "run_net.py"), *args],
        capture_output=True, text=True, env=env, timeout=900,
    )


TINY_RUN = [
    "NUM_GPUS", "0", "RESNET.WIDTH_PER_GROUP", "8", "GTA.GROUPS", "2", "GTA.NUM_REGIONS", "2",
    "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "4", "SOLVER.MAX_EPOCH", "1",
    "SOLVER.WARMUP_EPOCHS", "0.0", "TRAIN.CHECKPOINT_FILE_PATH", "", "DATA_LOADER.NUM_WORKERS", "0",
    "DATA_LOADER.PIN_MEMORY", "False", "TRAIN.EVAL_PERIOD", "1", "TRAIN.CHECKPOINT_PERIOD", "1",
    "DATA.TRAIN_CROP_SIZE", "64", "DATA.TEST_CROP_SIZE", "64", "LOG_PERIOD", "1",
]


@pytest.mark.parametrize("config, release", [
    ("SSv1/R2D_R50_GTA_8x1.yaml", "ssv1"),
    ("SSv2/R2D_R50_GTA_8x1.yaml", "ssv2"),
    ("Kinetics/R2D_R50_GTA_8x8.yaml", "kinetics"),
])
def test_run_net_trains_and_tests_the_r2d_gta_configs_on_a_release(
    config, release, ssv1_root, ssv2_root, kinetics_root, tmp_path
):
    root = {"ssv1": ssv1_root, "ssv2": ssv2_root, "kinetics": kinetics_root}[release]
    opts = ["DATA.PATH_TO_DATA_DIR", root, "OUTPUT_DIR", str(tmp_path / "out")] + TINY_RUN
    if release == "kinetics":
        opts += ["MODEL.NUM_CLASSES", "6", "DATA.PATH_PREFIX", root,
                 "DATA.TRAIN_JITTER_SCALES", "[72, 80]", "TEST.NUM_ENSEMBLE_VIEWS", "2",
                 "TEST.NUM_SPATIAL_CROPS", "3"]
    else:
        opts += ["MODEL.NUM_CLASSES", "6", "TSN.RESIZE", "[72, 96]"]
    result = run_net("--cfg", os.path.join(CONFIGS, config), *opts)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    from gta_slowfast.engine import upstream  # PySlowFast's own tools/ wherever a checkout has them

    trainer = ("PySlowFast trainer (tools/" if upstream.find_checkout()
               else "gta_slowfast fallback loop")
    assert f"Trainer: {trainer}" in result.stdout
    log = open(tmp_path / "out" / "stdout.log").read()
    assert '"_type": "train_epoch"' in log and '"split": "test_final"' in log
    assert os.path.isfile(tmp_path / "out" / "checkpoints" / "checkpoint_epoch_00001.pyth")
