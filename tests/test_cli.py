"""The commands as a user runs them: a mistake is one line on stderr and exit status 2, before
anything runs; --debug shows the traceback; --help names the command as it was invoked."""

import os
import re
import subprocess
import sys

import pytest
from conftest import REPO, check_one_line, requires_main
from test_engine import tiny_config  # noqa: F401  (the fixture)

from gta_slowfast.engine import launch
from gta_slowfast.tools import complexity

RUN_NET = os.path.join(REPO, "projects", "gta", "run_net.py")


def command(*args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd=REPO)


@pytest.mark.parametrize("overrides,message", [
    (["NONLOCAL.TYPE", "foo"], r"{cfg}: NONLOCAL.TYPE='foo' is not a registered variant; known: "
                               r"\['dnl', 'gta', 'nonlocal', 'sa', 'sa_tape', 'ta', 'tape'\]"),
    (["GTA.GROUPS", "3"], r"{cfg}: s3.pathway0_nonlocal1: the 'gta' block for its 64 channels "
                          r"cannot be built \(.*\): GlobalTemporalAttention: GTA.GROUPS=3 must be "
                          r">= 1 and divide the inner channel count 16"),
    (["GTA.NUM_REGIONS", "0"], r"{cfg}: s3.pathway0_nonlocal1: .*GTA.NUM_REGIONS must be >= 1, "
                               r"got 0"),
    (["GTA.GROUP", "2"], r"{cfg}: override GTA.GROUP 2: GTA.GROUP is not a config key \(did you "
                         r"mean GTA.GROUPS"),
    (["GTA.GROUPS", "two"], r"{cfg}: override GTA.GROUPS two: GTA.GROUPS='two': expected a "
                            r"value of type int, like 2, got str"),
    (["GTA.GROUPS"], r"{cfg}: overrides must be KEY VALUE pairs, got an odd count \(1\)"),
    (["NONLOCAL.LOCATION", "[[[]], [[]], [[]], [[]]]", "NONLOCAL.TYPE", "foo"],
     r"{cfg}: NONLOCAL.TYPE='foo' is not a registered variant"),  # even with no block placed
])
def test_run_net_reports_a_config_mistake_in_one_line_before_anything_runs(
        tiny_config, tmp_path, overrides, message):  # noqa: F811
    result = command(RUN_NET, "--cfg", tiny_config, "--trainer", "fallback", *overrides)
    check_one_line(result, "run_net.py", message.format(cfg=re.escape(tiny_config)))
    assert "Train with config" not in result.stdout and not (tmp_path / "out").exists()


@pytest.mark.parametrize("content,message", [
    ("GTA:\n  NOPE: 1\n", r"{cfg}: GTA.NOPE is not a config key \(did you mean"),
    ("GTA:\n  GROUPS: [1\n", r"{cfg}: not valid YAML at line 3, column 1: expected ',' or ']'"),
    ("_BASE_: nowhere.yaml\n",
     r"{cfg}: No such file or directory: '.*nowhere.yaml' \(its _BASE_\)"),
])
def test_run_net_names_a_broken_config_file(tmp_path, content, message):
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    result = command(RUN_NET, "--cfg", str(path))
    check_one_line(result, "run_net.py", message.format(cfg=re.escape(str(path))))


def test_a_config_pyslowfasts_builder_fails_on_is_named(tiny_config):  # noqa: F811
    result = command(RUN_NET, "--cfg", tiny_config, "RESNET.DEPTH", "42")
    check_one_line(result, "run_net.py", re.escape(tiny_config) + r": PySlowFast's model builder "
                   r"fails on this config \(MODEL.ARCH='2d', RESNET.DEPTH=42\): \w+Error.* at "
                   r"video_model_builder.py:\d+: .*RESNET.DEPTH")


def test_every_config_is_checked_before_the_first_runs(tiny_config, tmp_path):  # noqa: F811
    broken = tmp_path / "broken.yaml"
    broken.write_text("_BASE_: tiny.yaml\nNONLOCAL:\n  TYPE: foo\n")
    result = command(RUN_NET, "--cfg", tiny_config, str(broken), "--trainer", "fallback")
    check_one_line(result, "run_net.py", re.escape(f"{broken}: NONLOCAL.TYPE='foo'"))
    assert not (tmp_path / "out").exists()  # the first config did not run


def test_debug_shows_the_traceback(tiny_config):  # noqa: F811
    result = command(RUN_NET, "--cfg", tiny_config, "NONLOCAL.TYPE", "foo", "--debug")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "KeyError: \"NONLOCAL.TYPE='foo' is not a registered variant" in result.stderr


def test_options_after_the_overrides_are_refused(tiny_config):  # noqa: F811
    result = command(RUN_NET, "--cfg", tiny_config, "--trainer", "fallback", "RNG_SEED", "1",
                     "--num_shards", "2")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "run_net.py: error: --num_shards: options go before the KEY VALUE overrides" \
        in result.stderr


ENTRY_POINT = ("import sys; sys.argv[0] = '/venv/bin/gta-run-net'; "
               "from gta_slowfast.engine.launch import main; sys.exit(main())")


def test_gta_run_net_names_itself(tmp_path):
    """As pip's console-script wrapper runs it: sys.argv[0] is the entry point's path."""
    result = command("-c", ENTRY_POINT, "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: gta-run-net ")
    result = command("-c", ENTRY_POINT, "--cfg", str(tmp_path / "x.yaml"))
    assert result.stderr.startswith("gta-run-net: error: config file ")


def test_complexity_reads_what_follows_the_config_files_as_overrides(
        tiny_config, tmp_path, capsys):  # noqa: F811
    other = tmp_path / "other.yaml"
    other.write_text(open(tiny_config).read())
    complexity.main(["--cfg", tiny_config, str(other), "DATA.TRAIN_CROP_SIZE", "64"])
    rows = [line for line in capsys.readouterr().out.splitlines() if ".yaml |" in line]
    assert [row.split(" | ")[:4] for row in rows] == [
        ["| tiny.yaml", "gta", "4", "64"], ["| other.yaml", "gta", "4", "64"]]


def test_run_net_and_complexity_share_the_argument_convention(tiny_config):  # noqa: F811
    argv = ["--cfg", tiny_config, tiny_config, "NUM_GPUS", "0", "RNG_SEED", "3"]
    args = launch.parse_args(argv)
    assert args.cfg_files == [tiny_config] * 2 and args.opts == ["NUM_GPUS", "0", "RNG_SEED", "3"]
    with pytest.raises(SystemExit):
        launch.parse_args(["--cfg", tiny_config, "NUM_GPUS", "0", tiny_config])


@requires_main
def test_a_failed_pyslowfast_config_assertion_names_the_check(tiny_config):  # noqa: F811
    result = command(RUN_NET, "--cfg", tiny_config, "RESNET.NUM_GROUPS", "3")
    check_one_line(result, "run_net.py", r".*PySlowFast's assert_and_infer_cfg refuses the "
                                         r"config: assert cfg.RESNET.WIDTH_PER_GROUP % "
                                         r"cfg.RESNET.NUM_GROUPS == 0")


@pytest.mark.skipif(launch.upstream.find_checkout() is None,
                    reason="the installed PySlowFast has no trainer (tools/train_net.py)")
def test_fewer_classes_than_pyslowfasts_top5_end_before_any_worker(tiny_config):  # noqa: F811
    """PySlowFast's train_epoch computes top-5 errors and fails at its first iteration with
    fewer classes; the launcher says so first."""
    result = command(RUN_NET, "--cfg", tiny_config, "MODEL.NUM_CLASSES", "3")
    check_one_line(result, "run_net.py", re.escape(
        f"{tiny_config}: MODEL.NUM_CLASSES=3: PySlowFast's trainer computes top-5 errors"))
    assert "Train with config" not in result.stdout


@requires_main
def test_stock_kinetics_on_main_ends_in_one_line(tiny_config, tmp_path):  # noqa: F811
    """PySlowFast main's Kinetics decoder returns no frames; the pre-flight's refusal of it is
    a user error, one line and exit status 2."""
    from releases import make_kinetics

    root = make_kinetics(str(tmp_path / "kinetics"), containers=(("mp4", "mpeg4"),))
    result = command(RUN_NET, "--cfg", tiny_config, "TRAIN.DATASET", "kinetics",
                     "TEST.DATASET", "kinetics", "DATA.PATH_TO_DATA_DIR", root,
                     "DATA.PATH_PREFIX", root)
    check_one_line(result, "run_net.py",
                   f"{re.escape(tiny_config)}: PySlowFast's Kinetics decoder .* cannot decode")


def test_an_unreadable_first_test_video_ends_in_one_line(tiny_config, tmp_path):  # noqa: F811
    from releases import make_kinetics

    root = make_kinetics(str(tmp_path / "kinetics"), containers=(("mp4", "mpeg4"),))
    with open(os.path.join(root, "videos", "clip000.mp4"), "wb") as f:
        f.write(b"not a video")
    result = command(RUN_NET, "--cfg", tiny_config, "--trainer", "fallback",
                     "TRAIN.ENABLE", "False", "TEST.DATASET", "gta_kinetics",
                     "DATA.PATH_TO_DATA_DIR", root, "DATA.PATH_PREFIX", root)
    check_one_line(result, "run_net.py", f"{re.escape(tiny_config)}: gta_kinetics test split, "
                                         f"first item: video .*clip000.mp4 cannot be")
