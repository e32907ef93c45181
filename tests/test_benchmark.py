"""The benchmark command on small models: report fields and files; no timing assertions."""

import json
import os

import pytest
import torch
from conftest import small_cfg

import gta_slowfast
from gta_slowfast.benchmark import memory, targets
from gta_slowfast.factory import config_path, configs_root
from gta_slowfast.tools import benchmark

ROW_KEYS = {
    "group", "name", "config", "type", "device", "input", "params_m", "gflops", "forward_ms",
    "train_ms", "forward_clips_per_s", "train_clips_per_s", "train_time_ratio", "gflops_ratio",
    "peak_forward_mib", "peak_train_mib", "load_average", "forward_cpu_ms", "train_cpu_ms",
    "forward_runs_ms", "train_runs_ms", "precision",
}


def write_config(directory, variant, arch="2d"):
    cfg = small_cfg(variant, arch=arch, frames=4 if arch == "2d" else 8, crop=32)
    if variant == "none":
        cfg.NONLOCAL.LOCATION = [[[]]] * 4
    cfg.OUTPUT_DIR = str(directory)
    if "CROP_SIZE" not in gta_slowfast.get_cfg().DATA:  # small_cfg sets it for the snapshot
        cfg.DATA.pop("CROP_SIZE")
    path = directory / (f"{variant}.yaml" if arch == "2d" else f"{variant}_{arch}.yaml")
    path.write_text(cfg.dump())
    return str(path)


@pytest.fixture
def keep_threads():
    """The command sets torch's thread count for the process: restore it for later tests."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_models_and_blocks_give_markdown_and_json(tmp_path, capsys, keep_threads):
    configs = [write_config(tmp_path, "none"), write_config(tmp_path, "gta")]
    out = tmp_path / "bench"
    benchmark.main(["--cfg", *configs, "--device", "cpu", "--repeats", "1", "--warmup", "0",
                    "--batch-size", "2", "--block-variants", "gta", "dnl", "--no-memory",
                    "--threads", "1", "--output-dir", str(out)])
    printed = capsys.readouterr().out
    report = json.loads((out / "benchmark.json").read_text())
    assert (out / "benchmark.md").read_text().strip() in printed
    assert report["settings"]["batch_size"] == 2 and report["machine"]["threads"] == 1
    rows = report["rows"]
    assert [r["name"] for r in rows] == [
        "none.yaml", "gta.yaml", "gta block res3", "dnl block res3", "gta block res4",
        "dnl block res4",
    ]
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["forward_ms"] > 0 and row["train_ms"] > 0 and row["gflops"] > 0
        assert row["peak_forward_mib"] is None  # --no-memory
        assert len(row["train_runs_ms"]) == 1 and row["train_cpu_ms"] > 0
    assert [r["type"] for r in rows[:2]] == ["-", "gta"]
    assert rows[0]["train_time_ratio"] == 1.0 and rows[1]["gflops_ratio"] > 1.0
    assert rows[0]["input"] == [[2, 3, 4, 32, 32]]
    # Blocks alone at R2D-50's res3 / res4 shapes for this width (8) and crop: 8w and 16w channels.
    assert rows[2]["input"] == [[2, 64, 4, 4, 4]] and rows[4]["input"] == [[2, 128, 4, 2, 2]]
    lines = [line for line in printed.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| model | device | precision | params (M) | GFLOPs | fwd ms |")
    assert lines[1].startswith("| none.yaml | cpu | fp32 | ") and len(lines) == 1 + len(rows)


def test_slowfast_model(tmp_path, capsys):
    config = write_config(tmp_path, "gta", arch="slowfast")
    benchmark.main(["--cfg", config, "--device", "cpu", "--repeats", "1", "--warmup", "0",
                    "--no-blocks", "--no-memory", "--output-dir", str(tmp_path)])
    (row,) = json.loads((tmp_path / "benchmark.json").read_text())["rows"]
    assert row["input"] == [[1, 3, 2, 32, 32], [1, 3, 8, 32, 32]]  # Slow and Fast pathways
    assert row["type"] == "gta" and row["train_ms"] > 0


def test_compile_rows_form_their_own_group_of_compiled_models(tmp_path):
    """--compile: each model once more under torch.compile, in a group of its own (its time
    ratios are to the compiled base); the blocks alone stay eager."""
    configs = [write_config(tmp_path, "none"), write_config(tmp_path, "gta")]
    args = benchmark.parser().parse_args(
        ["--cfg", *configs, "--compile", "--block-variants", "gta"])
    groups = targets.config_groups(args.cfg_files, args.preset)
    entries = targets.describe_targets(groups, [], args)
    assert [(e.group, e.name) for e in entries] == [
        ("models", "none.yaml"), ("models", "gta.yaml"), ("block res3", "gta block res3"),
        ("block res4", "gta block res4"), ("models torch.compile", "none.yaml + torch.compile"),
        ("models torch.compile", "gta.yaml + torch.compile"),
    ]
    eager, compiled = (targets.spec_target(e.spec) for e in (entries[1], entries[5]))
    assert isinstance(compiled.module, torch._dynamo.eval_frame.OptimizedModule)
    assert not isinstance(eager.module, torch._dynamo.eval_frame.OptimizedModule)


@pytest.mark.skipif(not memory.cpu_memory_supported(), reason="needs Linux /proc/self/clear_refs")
def test_cpu_peak_memory_in_a_subprocess():
    """A block whose training pass holds a few MiB of activations shows them, forward less."""
    spec = dict(kind="block", variant="dnl", shape=[2, 64, 4, 16, 16], opts=[], threads=1)
    peaks = memory.measure_cpu_memory(spec)
    activation_mib = 2 * 64 * 4 * 16 * 16 * 4 / 2**20  # one block-sized float tensor: 0.5 MiB
    assert peaks["train"] > 2 * activation_mib
    assert 0 <= peaks["forward"] < peaks["train"]


def test_rss_peak_sees_a_temporary_tensor():
    if not memory.cpu_memory_supported():
        pytest.skip("needs Linux /proc/self/clear_refs")
    peak = memory.rss_peak_mib(lambda: torch.ones(64, 2**20 // 4).add_(1).sum())  # 64 MiB
    assert peak > 60


def test_unknown_config_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        benchmark.main(["--debug", "--cfg", str(tmp_path / "missing.yaml"), "--no-memory"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_cuda_without_a_device_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--device cuda: no CUDA device"):
        benchmark.main(["--debug", "--cfg", write_config(tmp_path, "gta"), "--device", "cuda"])


def test_presets_list_the_r2d_and_slowfast_tables():
    (title, paths), = targets.config_groups([], ["r2d"])
    assert [os.path.basename(p) for p in paths] == [
        "R2D_R50_8x1.yaml", "R2D_R50_NL_8x1.yaml", "R2D_R50_DNL_8x1.yaml", "R2D_R50_GTA_8x1.yaml"
    ]
    (title, paths), = targets.config_groups([], ["slowfast"])
    assert [os.path.basename(p) for p in paths] == [
        "SLOWFAST_16x8_R50.yaml", "SLOWFAST_16x8_R50_NL.yaml", "SLOWFAST_16x8_R50_DNL.yaml",
        "SLOWFAST_16x8_R50_GTA.yaml",
    ]
    groups = targets.config_groups([], sorted(targets.PRESETS))
    assert all(os.path.isfile(p) for _, group in groups for p in group)


def test_checkpointing_and_precision_rows(tmp_path, keep_threads):
    """--activation-checkpoint adds a row for each config with added blocks (GTA, not the
    stock NL); --precision adds a set of rows under autocast, each its own ratio group."""
    configs = [write_config(tmp_path, "none"), write_config(tmp_path, "nonlocal"),
               write_config(tmp_path, "gta")]
    benchmark.main(["--cfg", *configs, "--device", "cpu", "--repeats", "1", "--warmup", "0",
                    "--no-blocks", "--no-memory", "--threads", "1", "--activation-checkpoint",
                    "--precision", "fp32", "bf16", "--output-dir", str(tmp_path / "b")])
    rows = json.loads((tmp_path / "b" / "benchmark.json").read_text())["rows"]
    names = ["none.yaml", "nonlocal.yaml", "gta.yaml", "gta.yaml + GTA.ACTIVATION_CHECKPOINT"]
    assert [(r["name"], r["precision"]) for r in rows] == (
        [(n, "fp32") for n in names] + [(n, "bf16") for n in names])
    assert rows[4]["group"] == "models (bf16)" and rows[4]["train_time_ratio"] == 1.0
    # The same model: same FLOPs and parameters with and without recomputation.
    assert rows[3]["gflops"] == rows[2]["gflops"] and rows[3]["params_m"] == rows[2]["params_m"]


def test_default_output_folder_is_output_benchmark_of_the_working_directory(
        tmp_path, monkeypatch, keep_threads):
    """Not the configs' OUTPUT_DIR (".", the repository, for the shipped configs)."""
    config = write_config(tmp_path, "gta")
    monkeypatch.chdir(tmp_path)
    benchmark.main(["--cfg", config, "--device", "cpu", "--repeats", "1", "--warmup", "0",
                    "--no-blocks", "--no-memory", "--threads", "1"])
    assert sorted(os.listdir(tmp_path / "output" / "benchmark")) == [
        "benchmark.json", "benchmark.md"]
    assert not (tmp_path / "benchmark").exists()


DATA_ROW_KEYS = {
    "dataset", "config", "release", "video", "clip", "rounds", "items_per_s",
    "limit_items_per_s", "ratio", "ratio_cpu",
} | {f"{part}_{unit}" for part in ("item", "decode", "transform", "limit", "reference")
     for unit in ("ms", "cpu_ms")}


@pytest.fixture
def tiny_sample_releases(monkeypatch):
    """The sample releases at a few small videos each, so that they are written in seconds."""
    from gta_slowfast.datasets import sample_releases

    monkeypatch.setitem(sample_releases.SIZES, "gta_ssv1", (2, 10, 32, 48, 12))
    monkeypatch.setitem(sample_releases.SIZES, "gta_ssv2", (2, 12, 48, 64, 12))
    monkeypatch.setitem(sample_releases.SIZES, "gta_kinetics", (2, 40, 48, 64, 30))


def test_data_mode_times_items_against_the_decode_limit(
        tmp_path, capsys, keep_threads, tiny_sample_releases):
    out = tmp_path / "bench"
    argv = ["--data", "--items", "2", "--warmup", "0", "--output-dir", str(out),
            "TSN.RESIZE", "[60, 80]", "DATA.TRAIN_CROP_SIZE", "56",
            "DATA.TRAIN_JITTER_SCALES", "[64, 72]"]
    benchmark.main(argv)
    printed = capsys.readouterr().out
    report = json.loads((out / "data.json").read_text())
    assert (out / "data.md").read_text().strip() in printed
    rows = report["rows"]
    assert [r["dataset"] for r in rows] == ["gta_kinetics", "gta_ssv1", "gta_ssv2"]
    assert [os.path.relpath(r["config"], configs_root()) for r in rows] == [
        "Kinetics/R2D_R50_8x8.yaml", "SSv1/R2D_R50_8x1.yaml", "SSv2/R2D_R50_8x1.yaml"]
    for row in rows:
        assert set(row) == DATA_ROW_KEYS and row["rounds"] == 2
        assert row["item_ms"] > 0 and row["limit_ms"] > 0 and row["decode_ms"] > 0
        assert row["ratio"] == pytest.approx(row["limit_ms"] / row["item_ms"], rel=1e-2)
        assert (row["reference_ms"] is not None) == (row["dataset"] == "gta_ssv1")
    assert rows[1]["clip"] == "8 frames, TSN 60x80 -> 56"
    assert rows[0]["clip"] == "8 frames, rate 8, jitter [64, 72] -> 56"
    assert rows[2]["video"] == "12 frames 64x48 at 12 fps"
    lines = [line for line in printed.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| dataset | video | clip | items/s | item ms |") and len(lines) == 4
    # The releases are written once: a second run reads them again.
    marker = out / "releases" / "gta_ssv2" / "COMPLETE"
    written = marker.stat().st_mtime_ns
    benchmark.main(argv[:1] + ["gta_ssv2"] + argv[1:])
    assert marker.stat().st_mtime_ns == written
    rows = json.loads((out / "data.json").read_text())["rows"]
    assert [r["dataset"] for r in rows] == ["gta_ssv2"]


def test_data_mode_names_a_dataset_without_a_sample_release(tmp_path, capsys):
    config = config_path("Synthetic/R2D_R50.yaml")
    with pytest.raises(SystemExit) as exit_info:
        benchmark.main(["--data", "--cfg", config, "--output-dir", str(tmp_path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "no sample release for dataset 'synthetic'" in err and "Traceback" not in err
