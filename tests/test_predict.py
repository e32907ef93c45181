"""python -m gta_slowfast.tools.predict and create_model from a checkpoint alone, against the
scores the project's test loop saves for the same checkpoint, views and videos."""

import csv
import json
import os
import pickle
import shutil

import pytest
import torch
from releases import SS_CLASSES, make_ssv2
from test_engine import TINY, run_net

import gta_slowfast
from gta_slowfast.checkpoint import CheckpointError
from gta_slowfast.datasets.synthetic import CLASS_NAMES
from gta_slowfast.tools import predict

VIEWS, CROPS = 2, 3


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(checkpoint, test predictions) of the tiny synthetic config trained for one epoch and
    tested with 2 clips x 3 crops by the launcher's test loop."""
    root = tmp_path_factory.mktemp("trained")
    config = root / "tiny.yaml"
    config.write_text(TINY.format(data=root / "data", out=root / "out"))
    result = run_net("--cfg", str(config), "--trainer", "fallback", "TEST.SAVE_RESULTS_PATH",
                     "preds.pkl", "TEST.NUM_ENSEMBLE_VIEWS", str(VIEWS),
                     "TEST.NUM_SPATIAL_CROPS", str(CROPS))
    assert result.returncode == 0, result.stderr[-3000:]
    checkpoint = root / "out" / "checkpoints" / "checkpoint_epoch_00001.pyth"
    return str(checkpoint), str(root / "out" / "preds.pkl")


def test_create_model_from_the_checkpoint_alone(trained):
    checkpoint, _ = trained
    model = gta_slowfast.create_model(checkpoint=checkpoint)
    assert model.cfg.NONLOCAL.TYPE == "gta" and model.cfg.DATA.NUM_FRAMES == 4
    assert model.class_names == list(CLASS_NAMES)
    scores = model(gta_slowfast.dummy_inputs(model.cfg))
    top = gta_slowfast.top_classes(scores[0], model.class_names, k=3)
    assert [t.index for t in top] == scores[0].argsort(descending=True)[:3].tolist()
    assert top[0].name == CLASS_NAMES[top[0].index]
    # overrides still apply; a config that does not fit is named with the API's arguments
    with pytest.raises(CheckpointError) as err:
        gta_slowfast.create_model(checkpoint=checkpoint, num_classes=7)
    message = str(err.value)
    assert "its head does not fit: create_model needs the class count" in message
    assert "TEST.CHECKPOINT_FILE_PATH" not in message and "--cfg" not in message


def test_a_shipped_config_named_without_its_folder_lists_the_matches():
    with pytest.raises(FileNotFoundError) as err:
        gta_slowfast.create_model("R2D_R50_GTA_8x1.yaml")
    assert "SSv1/R2D_R50_GTA_8x1.yaml, SSv2/R2D_R50_GTA_8x1.yaml" in str(err.value)


def test_predict_views_equal_the_test_loops_scores(trained, tmp_path, capsys):
    checkpoint, preds = trained
    with open(preds, "rb") as f:
        saved, labels = pickle.load(f)  # per video: the softmax of its 6 views summed
    test_csv = os.path.join(os.path.dirname(os.path.dirname(checkpoint)), "..", "data",
                            "test.csv")
    output = str(tmp_path / "results.json")
    assert predict.main(["--checkpoint", checkpoint, "--views", "--top", "6", test_csv,
                         "TEST.NUM_ENSEMBLE_VIEWS", str(VIEWS), "TEST.NUM_SPATIAL_CROPS",
                         str(CROPS), "--output", output]) == 0
    with open(output) as f:
        results = json.load(f)
    assert len(results) == len(labels)
    for video, result in enumerate(results):
        (window,) = result["windows"]
        got = torch.zeros(len(CLASS_NAMES))
        for entry in window["top"]:
            got[entry["class"]] = entry["score"]
            assert entry["name"] == CLASS_NAMES[entry["class"]]
        torch.testing.assert_close(got, torch.as_tensor(saved[video]).float() / (VIEWS * CROPS),
                                   atol=2e-6, rtol=0)
    printed = capsys.readouterr().out
    assert f"  1. {results[0]['windows'][0]['top'][0]['name']}" in printed


def test_predict_single_view_is_the_validation_clip(trained):
    """Without --views: the centre clip and crop, as the validation loader's item."""
    from slowfast.datasets.build import build_dataset

    checkpoint, _ = trained
    model = gta_slowfast.create_model(checkpoint=checkpoint)
    dataset = build_dataset("synthetic", model.cfg, "val")
    with open(os.path.join(model.cfg.SYNTHETIC.PATH, "val.csv")) as f:
        first = f.readline().split()[0]
    [(start, end, scores)] = predict.predict_video(model, first, torch.device("cpu"))
    with torch.no_grad():
        expected = model([x.unsqueeze(0) for x in dataset[0][0]])[0]
    torch.testing.assert_close(scores, expected)
    assert start == 0.0 and end == pytest.approx(8 / 30)


def test_predict_windows_of_a_long_video(tmp_path, capsys):
    root = make_ssv2(str(tmp_path / "ssv2"), per_class=(1, 0, 0), num_frames=(40,))
    cfg = gta_slowfast.load_config(
        os.path.join(gta_slowfast.factory.configs_root(), "SSv2", "R2D_R50_GTA_8x1.yaml"),
        ["DATA.PATH_TO_DATA_DIR", root, "MODEL.NUM_CLASSES", str(len(SS_CLASSES)),
         "RESNET.WIDTH_PER_GROUP", "4", "TSN.RESIZE", "[40, 56]", "DATA.TRAIN_CROP_SIZE", "32",
         "DATA.TEST_CROP_SIZE", "32", "NUM_GPUS", "0"])
    model = gta_slowfast.build_model(cfg)
    checkpoint = str(tmp_path / "ssv2.pyth")
    torch.save({"model_state": model.state_dict(), "cfg": cfg.dump()}, checkpoint)
    video = os.path.join(root, "20bn-something-something-v2", "1.webm")  # 40 frames at 12 fps
    output = str(tmp_path / "windows.csv")
    assert predict.main(["--checkpoint", checkpoint, "--window", "1", "--stride", "0.5",
                         "--top", "2", video, "--output", output]) == 0
    with open(output) as f:
        rows = list(csv.DictReader(f))
    starts = sorted({float(r["start"]) for r in rows})
    # 12-frame windows every 6 frames of 40: starts 0, 6, 12, 18, 24 (frames) / 12 fps
    assert starts == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert {r["name"] for r in rows} <= set(SS_CLASSES) and len(rows) == 2 * len(starts)
    first = [r for r in rows if float(r["start"]) == 1.0]
    frames, _, _ = gta_slowfast.datasets.decoding.read_video_file(
        video, lambda n, fps: torch.arange(n))
    from gta_slowfast.datasets import sampling
    from gta_slowfast.datasets.video_dataset import prepare_clip

    window = frames[12:24][sampling.segment_indices(12, 8, 0, 1)]
    clip = [x.unsqueeze(0) for x in prepare_clip(cfg, window, train=False)[0]]
    with torch.no_grad():
        expected = model.eval()(clip)[0]
    assert float(first[0]["score"]) == pytest.approx(expected.max().item(), abs=1e-5)
    assert "     1.00 -     2.00 s  " in capsys.readouterr().out


def test_an_unreadable_video_is_named_and_the_others_go_on(trained, tmp_path, capsys):
    checkpoint, _ = trained
    videos = tmp_path / "videos"
    videos.mkdir()
    data = os.path.join(os.path.dirname(os.path.dirname(checkpoint)), "..", "data", "videos")
    shutil.copy(os.path.join(data, "test_00000.mp4"), videos / "a.mp4")
    (videos / "b.mp4").write_bytes(b"not a video")
    assert predict.main(["--checkpoint", checkpoint, str(videos)]) == predict.EXIT_VIDEO_FAILED
    out, err = capsys.readouterr()
    assert "a.mp4\n  1. " in out
    assert "cannot read " in err and "b.mp4" in err and "1 of 2 videos could not be read" in err


@pytest.mark.parametrize("args,message", [
    (["--labels", "missing_labels.txt"], "label file missing_labels.txt does not exist"),
    (["--window", "-1"], "--window -1.0: expected a positive number of seconds"),
    (["--cfg", "R2D_R50_GTA_8x1.yaml"], "SSv1/R2D_R50_GTA_8x1.yaml, SSv2/R2D_R50_GTA_8x1.yaml"),
])
def test_predict_user_errors_are_one_line(trained, args, message, capsys):
    checkpoint, _ = trained
    with pytest.raises(SystemExit) as exit_info:
        predict.main(["--checkpoint", checkpoint, "video.mp4"] + args)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_predict_a_checkpoint_that_does_not_fit_the_config(trained, capsys):
    checkpoint, _ = trained
    with pytest.raises(SystemExit):
        predict.main(["--checkpoint", checkpoint, "video.mp4", "MODEL.NUM_CLASSES", "7"])
    err = capsys.readouterr().err
    assert "does not fit the model" in err and "Without --cfg" in err
    assert "TEST.CHECKPOINT_FILE_PATH" not in err


def test_label_files_in_the_releases_formats(trained, tmp_path):
    checkpoint, _ = trained
    names = ["b", "a", "c", "e", "d", "f"]
    lines = tmp_path / "labels.csv"  # Something-Something v1: one name a line, file order
    lines.write_text("\n".join(names) + "\n")
    ssv2 = tmp_path / "labels.json"  # Something-Something v2: {"name": "index"}
    ssv2.write_text(json.dumps({name: str(i) for i, name in enumerate(names)}))
    for path in (lines, ssv2):
        model = gta_slowfast.create_model(checkpoint=checkpoint, labels=str(path))
        assert model.class_names == names
    lines.write_text("a\nb\n")
    with pytest.raises(ValueError, match=f"label file {lines} names 2 classes, the model has "
                                         f"MODEL.NUM_CLASSES=6"):
        gta_slowfast.create_model(checkpoint=checkpoint, labels=str(lines))


def test_a_checkpoint_of_the_other_pyslowfast_generation_loads(tmp_path, caplog):
    """Its stored config has keys the installed PySlowFast lacks: left out, named in the log."""
    cfg = gta_slowfast.load_config(
        os.path.join(gta_slowfast.factory.configs_root(), "Synthetic", "R2D_R50_GTA.yaml"),
        ["RESNET.WIDTH_PER_GROUP", "4", "NUM_GPUS", "0"])
    model = gta_slowfast.build_model(cfg)
    cfg.DATA.OTHER_GENERATIONS_KEY = 3  # yacs adds a key to a config that is not frozen
    checkpoint = str(tmp_path / "other.pyth")
    torch.save({"model_state": model.state_dict(), "cfg": cfg.dump()}, checkpoint)
    with caplog.at_level("WARNING"):
        loaded = gta_slowfast.create_model(checkpoint=checkpoint)
    assert "left out: DATA.OTHER_GENERATIONS_KEY" in caplog.text
    assert loaded.cfg.RESNET.WIDTH_PER_GROUP == 4 and "OTHER_GENERATIONS_KEY" not in loaded.cfg.DATA
