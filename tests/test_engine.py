"""run_net.py end to end on the synthetic dataset, and the launcher's clear errors (the dataset
itself: test_synthetic_dataset.py, its generation: test_synthetic_generation.py)."""

import csv
import json
import os
import pickle
import subprocess
import sys
from collections import Counter

import pytest
import torch
from conftest import CONFIGS, REPO, requires_snapshot
from releases import make_kinetics

import gta_slowfast
from gta_slowfast.datasets.synthetic import CLASS_NAMES, generate
from gta_slowfast.datasets.video_dataset import ReleaseError
from gta_slowfast.engine import launch, upstream

TINY = """
TRAIN: {{ENABLE: True, DATASET: synthetic, BATCH_SIZE: 4, EVAL_PERIOD: 1, CHECKPOINT_PERIOD: 1,
        AUTO_RESUME: True}}
DATA: {{NUM_FRAMES: 4, SAMPLING_RATE: 2, TRAIN_JITTER_SCALES: [36, 44], TRAIN_CROP_SIZE: 32,
       TEST_CROP_SIZE: 32, INPUT_CHANNEL_NUM: [3], DECODING_BACKEND: pyav}}
SYNTHETIC: {{NUM_TRAIN: 12, NUM_TEST: 6, SIZE: 40, VIDEO_FRAMES: 8, PATH: {data}}}
RESNET: {{WIDTH_PER_GROUP: 8, DEPTH: 50, NUM_BLOCK_TEMP_KERNEL: [[3], [4], [6], [3]]}}
NONLOCAL: {{LOCATION: [[[]], [[1]], [[1]], [[]]], GROUP: [[1], [1], [1], [1]],
           POOL: [[[1, 2, 2]], [[1, 2, 2]], [[1, 2, 2]], [[1, 2, 2]]], TYPE: gta}}
GTA: {{GROUPS: 2, NUM_REGIONS: 2, ZERO_INIT_FINAL_NORM: False}}
SOLVER: {{BASE_LR: 0.01, LR_POLICY: cosine, MAX_EPOCH: 1, WARMUP_EPOCHS: 0.0,
         OPTIMIZING_METHOD: sgd}}
MODEL: {{NUM_CLASSES: 6, ARCH: 2d, MODEL_NAME: ResNet, DROPOUT_RATE: 0.0}}
TEST: {{ENABLE: True, DATASET: synthetic, BATCH_SIZE: 4, NUM_ENSEMBLE_VIEWS: 1,
       NUM_SPATIAL_CROPS: 1}}
DATA_LOADER: {{NUM_WORKERS: 0, PIN_MEMORY: False}}
NUM_GPUS: 0
LOG_PERIOD: 1
OUTPUT_DIR: {out}
"""


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY.format(data=tmp_path / "data", out=tmp_path / "out"))
    return str(path)


def run_net(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "projects", "gta", "run_net.py"), *args],
        capture_output=True, text=True, env=env, timeout=600,
    )


def check_per_class_results(results_dir, predictions):
    """The per-class files against counts made here from the saved per-video scores."""
    with open(predictions, "rb") as f:
        scores, labels = pickle.load(f)
    videos, correct = Counter(), Counter()
    for row, label in zip(scores.tolist(), labels.tolist()):
        videos[label] += 1
        correct[label] += max(range(len(row)), key=row.__getitem__) == label
    with open(os.path.join(results_dir, "per_class_top1.csv")) as f:
        rows = list(csv.DictReader(f))
    assert [r["name"] for r in rows] == list(CLASS_NAMES)
    assert [(int(r["videos"]), int(r["correct"])) for r in rows] == [
        (videos[c], correct[c]) for c in range(len(CLASS_NAMES))]
    with open(os.path.join(results_dir, "per_class_summary.json")) as f:
        summary = json.load(f)
    per_class = [100.0 * correct[c] / videos[c] for c in videos]
    assert summary["mean_class_acc"] == round(sum(per_class) / len(per_class), 2)
    assert summary["videos"] == len(labels)
    assert os.path.getsize(os.path.join(results_dir, "confusion_matrix.png")) > 1000
    return scores


def json_stats(out_dir):
    """The stats dicts of OUTPUT_DIR/json_stats.log, each line as PySlowFast main writes it."""
    with open(os.path.join(out_dir, "json_stats.log")) as f:
        lines = f.read().splitlines()
    assert lines and all(line.startswith("json_stats: ") for line in lines), lines
    return [json.loads(line[len("json_stats: "):]) for line in lines]


def check_run(result, out_dir):
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert os.path.isfile(os.path.join(out_dir, "checkpoints", "checkpoint_epoch_00001.pyth"))
    log = open(os.path.join(out_dir, "stdout.log")).read()
    assert '"_type": "train_epoch"' in log and '"split": "test_final"' in log
    assert "Flops:" in log and "Params:" in log
    check_per_class_results(out_dir, os.path.join(out_dir, "test_predictions.pkl"))
    assert "mean class accuracy" in result.stdout and "per_class_top1.csv" in result.stdout
    stats = json_stats(out_dir)
    kinds = [entry.get("_type", entry.get("split")) for entry in stats]
    assert {"train_epoch", "val_epoch"} <= set(kinds) and kinds[-1] == "test_final", kinds
    assert stats[-1]["top1_acc"] in log
    return log


def test_run_net_trains_checkpoints_and_tests_with_the_fallback_loop(tiny_config, tmp_path):
    result = run_net("--cfg", tiny_config, "--trainer", "fallback")
    check_run(result, tmp_path / "out")
    assert "Trainer: gta_slowfast fallback loop" in result.stdout
    assert "tiny.yaml: test top-1" in result.stdout


def test_the_final_line_names_the_k_of_the_top_k_it_reports(tiny_config, tmp_path):
    """With 4 classes the fallback loop's second accuracy is top-4 (every label is among the 4
    scores: 100 %), logged as top4_acc; the line run_net prints last names the same k and
    values."""
    root = make_kinetics(str(tmp_path / "four"), num_classes=4, containers=(("mp4", "mpeg4"),))
    result = run_net("--cfg", tiny_config, "--trainer", "fallback", "TRAIN.ENABLE", "False",
                     "TEST.DATASET", "gta_kinetics", "DATA.PATH_TO_DATA_DIR", root,
                     "DATA.PATH_PREFIX", root, "MODEL.NUM_CLASSES", "4")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    final = json_stats(tmp_path / "out")[-1]
    assert final["split"] == "test_final" and "top5_acc" not in final
    assert final["top4_acc"] == "100.00"
    assert result.stdout.splitlines()[-1] == (
        f"{tiny_config}: test top-1 {final['top1_acc']} %, top-4 100.00 %")


def test_every_view_count_of_a_test_gets_its_own_results(tiny_config, tmp_path):
    """TEST.NUM_ENSEMBLE_VIEWS -1 tests 1, 3, 5, 7 and 10 clips per video, as PySlowFast's
    run_net.py; each keeps its scores and per-class results in test_<n>_clips."""
    result = run_net("--cfg", tiny_config, "--trainer", "fallback", "TRAIN.ENABLE", "False",
                     "TEST.NUM_ENSEMBLE_VIEWS", "-1", "TEST.SAVE_RESULTS_PATH", "preds.pkl")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = tmp_path / "out"
    for clips in (1, 3, 5, 7, 10):
        folder = out / f"test_{clips}_clips"
        scores = check_per_class_results(str(folder), str(folder / "preds.pkl"))
        # Each video's scores: its clips' softmax outputs summed.
        torch.testing.assert_close(scores.sum(1), torch.full((6,), float(clips)))
        assert f"tiny.yaml ({clips} clip{'s' * (clips > 1)} x 1 crop)" in result.stdout
    assert not (out / "per_class_top1.csv").exists()
    assert [s["split"] for s in json_stats(out)] == ["test_final"] * 5


def test_run_net_uses_pyslowfast_trainer_from_a_checkout(tiny_config, tmp_path):
    if upstream.find_checkout() is None:
        pytest.skip("no PySlowFast checkout with tools/ is installed (PyPI snapshot in use)")
    result = run_net("--cfg", tiny_config, "--trainer", "upstream")
    check_run(result, tmp_path / "out")
    assert "Trainer: PySlowFast trainer (tools/ of" in result.stdout


def test_overrides_after_the_config_file(tiny_config):
    args = launch.parse_args(["--cfg", tiny_config, "NUM_GPUS", "0", "RNG_SEED", "3"])
    assert args.cfg_files == [tiny_config] and args.opts == ["NUM_GPUS", "0", "RNG_SEED", "3"]


def test_upstream_trainer_requested_without_a_checkout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"--slowfast-root=.* is not a PySlowFast checkout"):
        launch.select_trainer("upstream", str(tmp_path))


def kinetics_cfg(tiny_config, root, *opts):
    return gta_slowfast.load_config(
        tiny_config,
        ["TRAIN.DATASET", "kinetics", "TEST.DATASET", "kinetics",
         "DATA.PATH_TO_DATA_DIR", str(root), *opts],
    )


def test_missing_dataset_path_is_named(tiny_config, tmp_path):
    with pytest.raises(ReleaseError, match=r"DATA.PATH_TO_DATA_DIR=.*nowhere.* not a directory"):
        launch.preflight(kinetics_cfg(tiny_config, tmp_path / "nowhere"))


@pytest.mark.parametrize("content,message", [
    ("", r"train.csv lists no videos"),
    ("a.mp4 1 extra\n", r"train.csv:1: expected 'path label', got 'a.mp4 1 extra'"),
    ("a.mp4 seven\n", r"train.csv:1: expected 'path label', got 'a.mp4 seven'"),
    ("a.mp4 6\n", r"train.csv: video a.mp4 has label 6, not in \[0, MODEL.NUM_CLASSES=6\)"),
    ("missing.mp4 1\n",
     r"1 of 1 videos listed in .*train.csv have no video files, first: missing.mp4"),
])
def test_bad_csv_is_named(tiny_config, tmp_path, content, message):
    (tmp_path / "train.csv").write_text(content)
    with pytest.raises(ReleaseError, match=message):
        launch.preflight(kinetics_cfg(tiny_config, tmp_path))


def test_unreadable_video_is_named(tiny_config, tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"not a video" * 100)
    (tmp_path / "train.csv").write_text(f"{tmp_path / 'broken.mp4'} 1\n")
    with pytest.raises(ReleaseError,
                       match=r"video .*broken.mp4 \(listed in .*train.csv\) is unreadable"):
        launch.preflight(kinetics_cfg(tiny_config, tmp_path))


def test_missing_test_checkpoint_is_named(tiny_config, tmp_path):
    cfg = gta_slowfast.load_config(
        tiny_config,
        ["TRAIN.ENABLE", "False", "TEST.CHECKPOINT_FILE_PATH", str(tmp_path / "x.pyth")],
    )
    with pytest.raises(FileNotFoundError, match=r"checkpoint .*x.pyth does not exist"):
        launch.preflight(cfg)


def test_preflight_decodes_through_pyslowfasts_decoder(tiny_config, tmp_path):
    """The snapshot decodes the videos; main's broken PyAV path is named."""
    from gta_slowfast import compat

    root = generate(str(tmp_path / "videos"), 0, 6, 6, 40, 8)
    cfg = kinetics_cfg(tiny_config, root)
    if compat.GENERATION == "snapshot":
        launch.preflight(cfg)
    else:
        with pytest.raises(
            ReleaseError, match=r"cannot decode .*train_00000.mp4.*'pyav' fails on every video"
        ):
            launch.preflight(cfg)


class FakeClock:
    """perf_counter for PySlowFast's timers (fvcore's Timer): time passes only when told."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_epoch_and_iteration_lines_estimate_the_same_time_left(tiny_config, monkeypatch,
                                                               caplog):
    """Every training step takes 2 s of a fake clock, data loading none: after step k of 3
    epochs x 3 steps, 2 s x (9 - k) are left, in the iteration lines and in the epoch lines."""
    import fvcore.common.timer
    import slowfast.models.optimizer as optim
    from slowfast.utils.meters import TrainMeter

    from gta_slowfast.engine import fallback

    clock = FakeClock()
    monkeypatch.setattr(fvcore.common.timer, "perf_counter", clock)

    class TwoSecondModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 6)

        def forward(self, inputs):
            clock.now += 2.0
            return self.fc(inputs[0].mean(dim=(2, 3, 4)))

    cfg = gta_slowfast.load_config(tiny_config, ["SOLVER.MAX_EPOCH", "3"])
    torch.manual_seed(0)
    loader = [([torch.randn(2, 3, 4, 8, 8)], torch.tensor([0, 1])) for _ in range(3)]
    model = TwoSecondModel()
    optimizer = optim.construct_optimizer(model, cfg)  # param groups as each generation sets them
    meter = TrainMeter(len(loader), cfg)
    with caplog.at_level("INFO"):
        for epoch in range(3):
            fallback.train_epoch(loader, model, optimizer, meter, epoch, cfg)
    stats = [json.loads(r.getMessage()[len("json_stats: "):]) for r in caplog.records
             if r.getMessage().startswith("json_stats: ")]
    # main names the iteration lines "train_iter_", the snapshot "train_iter"
    got = [(s["_type"].rstrip("_"), s["epoch"], s.get("iter"), s["eta"]) for s in stats]

    def eta(seconds):
        return f"0:00:{seconds:02d}"

    expected = []
    for epoch in range(3):
        for step in range(3):
            left = 9 - (3 * epoch + step + 1)
            expected.append(("train_iter", f"{epoch + 1}/3", f"{step + 1}/3", eta(2 * left)))
        expected.append(("train_epoch", f"{epoch + 1}/3", None, eta(2 * (9 - 3 * (epoch + 1)))))
    assert got == expected


# The datasets gta_slowfast registers, on both PySlowFast generations.
PROJECT_DATASETS = ("synthetic", "gta_ssv1", "gta_ssv2", "gta_kinetics")


@pytest.mark.parametrize(
    "path", [os.path.join(CONFIGS, config) for config in gta_slowfast.list_configs()]
)
def test_every_config_runs_on_the_installed_pyslowfast(path):
    """The README's promise for an install without a PySlowFast checkout: every shipped config
    reads datasets of the project's own, registered in the installed PySlowFast, and the
    fallback loop's PySlowFast parts accept its loss, optimizer and learning-rate policy."""
    import slowfast.models.losses as losses
    import slowfast.models.optimizer as optim
    from slowfast.datasets.build import DATASET_REGISTRY

    cfg = gta_slowfast.load_config(path, ["NUM_GPUS", "0"])
    for name in (cfg.TRAIN.DATASET, cfg.TEST.DATASET):
        assert name in PROJECT_DATASETS and name.capitalize() in DATASET_REGISTRY._obj_map, name
    losses.get_loss_func(cfg.MODEL.LOSS_FUNC)
    optim.construct_optimizer(torch.nn.Sequential(torch.nn.Conv3d(3, 4, 1),
                                                  torch.nn.BatchNorm3d(4)), cfg)
    for epoch in (0.0, cfg.SOLVER.MAX_EPOCH / 2, cfg.SOLVER.MAX_EPOCH - 0.5):
        assert optim.get_epoch_lr(epoch, cfg) > 0


def test_a_dataset_the_installed_pyslowfast_lacks_is_named(tiny_config):
    from gta_slowfast import compat

    cfg = gta_slowfast.load_config(tiny_config, ["TRAIN.DATASET", "ssv9"])
    with pytest.raises(ReleaseError, match=rf"^TRAIN.DATASET='ssv9' is not a dataset of the "
                       rf"installed PySlowFast \({compat.GENERATION}\); registered: "
                       rf"\[.*'gta_ssv2'.*'synthetic'\]$"):
        launch.preflight(cfg)


@requires_snapshot
def test_a_dataset_of_pyslowfast_main_needs_a_checkout(tiny_config):
    cfg = gta_slowfast.load_config(tiny_config, ["TRAIN.DATASET", "ssv2"])
    with pytest.raises(ReleaseError, match=r"'ssv2' is a dataset of PySlowFast main, which needs "
                       r"a PySlowFast checkout .*, or use gta_ssv2"):
        launch.preflight(cfg)
