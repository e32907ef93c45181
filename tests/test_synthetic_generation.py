"""The synthetic dataset's generation: twin classes are one clip played both ways, every clip
in both directions (decoded bit for bit reversed), deterministic, generated once when many
processes (DDP ranks, loader workers) ask for it at the same time, and a failed generation
reported, never taken for a dataset."""

import json
import multiprocessing
import os
import time

import numpy as np
import pytest

from gta_slowfast.datasets import synthetic

PARAMS = dict(seed=3, num_train=6, num_test=6, size=32, num_frames=4)
PROCESSES = 3


def _rank(root, barrier, calls, results):
    """One process: every video it writes is logged to ``calls`` (and takes 50 ms, so that the
    processes overlap); then it builds the dataset as every rank does."""
    original = synthetic.write_video

    def write_video(path, frames, fps=30):
        with open(calls, "a") as f:
            f.write(f"{os.getpid()} {os.path.basename(path)}\n")
        time.sleep(0.05)
        original(path, frames, fps)

    synthetic.write_video = write_video
    barrier.wait()
    try:
        synthetic.generate(root, **PARAMS)
        results.put((os.getpid(), "ok"))
    except Exception as err:  # reported to the test
        results.put((os.getpid(), f"{type(err).__name__}: {err}"))


def test_concurrent_processes_generate_once_and_all_get_the_complete_dataset(tmp_path):
    context = multiprocessing.get_context("fork")
    root, calls = str(tmp_path / "data"), str(tmp_path / "calls.txt")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    ranks = [context.Process(target=_rank, args=(root, barrier, calls, results))
             for _ in range(PROCESSES)]
    for rank in ranks:
        rank.start()
    outcomes = [results.get(timeout=120) for _ in ranks]
    for rank in ranks:
        rank.join(timeout=60)
    assert [outcome for _, outcome in outcomes] == ["ok"] * PROCESSES, outcomes
    written = open(calls).read().splitlines()
    writers = {line.split()[0] for line in written}
    assert len(writers) == 1 and len(written) == PARAMS["num_train"] + PARAMS["num_test"], written
    with open(os.path.join(root, synthetic.MANIFEST)) as f:
        assert json.load(f) == dict(PARAMS, classes=list(synthetic.CLASS_NAMES),
                                    format=synthetic.FORMAT)
    for split in ("train", "val", "test"):
        with open(os.path.join(root, f"{split}.csv")) as f:
            paths = [line.split()[0] for line in f.read().splitlines()]
        assert len(paths) == 6 and all(os.path.getsize(path) > 0 for path in paths)
    assert [name for name in os.listdir(tmp_path) if name.startswith(".synthetic-")] == []


def test_a_failed_generation_is_raised_and_leaves_no_dataset(tmp_path, monkeypatch):
    root = str(tmp_path / "data")

    def replace(src, dst):
        raise OSError(28, "No space left on device", dst)

    monkeypatch.setattr(synthetic.os, "replace", replace)
    with pytest.raises(OSError, match="No space left on device"):
        synthetic.generate(root, **PARAMS)
    assert not os.path.exists(os.path.join(root, synthetic.MANIFEST))
    assert [name for name in os.listdir(tmp_path) if name.startswith(".synthetic-")] == []
    monkeypatch.undo()
    assert synthetic.generate(root, **PARAMS) == root  # the lock was released
    assert os.path.isfile(os.path.join(root, synthetic.MANIFEST))


def _decode(path):
    import av

    with av.open(path) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_every_split_holds_each_clip_and_its_exact_reversal_under_the_twin_labels(tmp_path):
    root = synthetic.generate(str(tmp_path / "data"), **PARAMS)
    for split in ("train", "test"):
        with open(os.path.join(root, f"{split}.csv")) as f:
            rows = [line.split() for line in f.read().splitlines()]
        assert [int(label) for _, label in rows] == [i % 6 for i in range(len(rows))]
        clips = [_decode(path) for path, _ in rows]
        for index in range(0, len(rows), 2):
            forward, backward = clips[index], clips[index + 1]
            assert forward.shape == (PARAMS["num_frames"], PARAMS["size"], PARAMS["size"], 3)
            np.testing.assert_array_equal(backward, forward[::-1])
            assert not np.array_equal(forward, forward[::-1])  # the order is visible
    train = _decode(os.path.join(root, "videos", "train_00000.mp4"))
    test = _decode(os.path.join(root, "videos", "test_00000.mp4"))
    assert not np.array_equal(train, test)  # disjoint seeds


def test_twin_classes_are_the_same_clip_reversed():
    for kind in range(len(synthetic.CLASS_NAMES) // 2):
        forward = synthetic.make_clip(2 * kind, seed=7, size=32, num_frames=6)
        backward = synthetic.make_clip(2 * kind + 1, seed=7, size=32, num_frames=6)
        assert np.array_equal(forward[::-1], backward)
        assert not np.array_equal(forward, backward)


def test_generation_is_deterministic(tmp_path):
    synthetic.generate(str(tmp_path / "a"), 3, 6, 6, 32, 6)
    synthetic.generate(str(tmp_path / "b"), 3, 6, 6, 32, 6)
    for name in ("train_00004.mp4", "test_00002.mp4"):
        a = (tmp_path / "a" / "videos" / name).read_bytes()
        assert a == (tmp_path / "b" / "videos" / name).read_bytes()
    rows = (tmp_path / "a" / "train.csv").read_text().splitlines()
    assert [int(r.split()[1]) for r in rows] == [0, 1, 2, 3, 4, 5]
