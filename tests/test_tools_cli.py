"""Every command as a user runs it: every module of gta_slowfast/tools with a main, the
launcher (gta_slowfast.engine.launch) and projects/gta/run_net.py. --help (run as
``python -m``, and the script) exits 0 and prints the usage under the name the command was
invoked by, its examples and every option; a typical mistake (a missing file, a bad argument)
is one line on stderr naming it, exit status 2, no traceback (run as pip's console script runs
``main``); each module has a console script in setup.py."""

import argparse
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys

import pytest
from conftest import REPO, check_one_line

import gta_slowfast.tools
from gta_slowfast.factory import config_path

LAUNCH = "gta_slowfast.engine.launch"
RUN_NET = "projects/gta/run_net.py"
TOOL_MODULES = sorted(
    f"gta_slowfast.tools.{info.name}" for info in pkgutil.iter_modules(gta_slowfast.tools.__path__)
    if hasattr(importlib.import_module(f"gta_slowfast.tools.{info.name}"), "main")
) + [LAUNCH]
COMMANDS = TOOL_MODULES + [RUN_NET]

# A line of each command's examples, as --help must print it (line breaks kept).
EXAMPLES = {
    LAUNCH: "\n    gta-run-net --cfg configs/SSv1/R2D_R50_GTA_8x1.yaml ",
    RUN_NET: "\n    gta-run-net --cfg configs/SSv1/R2D_R50_GTA_8x1.yaml ",
    "gta_slowfast.tools.complexity": "        configs/SSv1/R2D_R50_GTA_8x1.yaml [KEY VALUE ...]\n",
    "gta_slowfast.tools.data": "        DATA.PATH_TO_DATA_DIR /data/something-something-v2\n",
    "gta_slowfast.tools.convert": "        --cfg CONFIG --dst i3d_gta_init.pyth [KEY VALUE ...]\n",
    "gta_slowfast.tools.ensemble": "\n    python -m gta_slowfast.tools.ensemble --preds out8/",
    "gta_slowfast.tools.visualize": "        --checkpoint gta.pyth --video clip.webm \\\n",
    "gta_slowfast.tools.benchmark": "--activation-checkpoint \\\n        --batch-size 2\n",
    "gta_slowfast.tools.curves": "R2D_R50_GTA \\\n        output/synthetic/R2D_R50_DNL",
    "gta_slowfast.tools.predict": "--window 2 --stride 1 \\\n        long_video.mp4 --output",
}

SHIPPED = "SSv1/R2D_R50_GTA_8x1.yaml"
# Typical mistakes of each command (arguments, the message after "<command>: error: ");
# {tmp}: an empty folder, {cfg}: a shipped config.
MISSING_CONFIG = (["--cfg", "{tmp}/x.yaml"], r"config file '{tmp}/x.yaml' does not exist")
MISTAKES = {
    LAUNCH: [MISSING_CONFIG],
    RUN_NET: [MISSING_CONFIG],
    "gta_slowfast.tools.benchmark": [
        (["--cfg", "{tmp}/x.yaml", "--no-memory"], MISSING_CONFIG[1]),
    ],
    "gta_slowfast.tools.complexity": [
        MISSING_CONFIG,
        (["--cfg", "{cfg}", "GTA.NOPE", "1"],
         r"{cfg}: override GTA.NOPE 1: GTA.NOPE is not a config key"),
    ],
    "gta_slowfast.tools.curves": [
        (["--runs", "{tmp}/missing"], r"run folder '{tmp}/missing' does not exist"),
    ],
    "gta_slowfast.tools.data": [MISSING_CONFIG],
    "gta_slowfast.tools.convert": [
        (["resample", "--src", "{tmp}/x.pyth", "--dst", "{tmp}/y.pyth", "--num-frames", "16"],
         r"checkpoint {tmp}/x.pyth does not exist"),
        (["onnx", "--checkpoint", "{tmp}/x.pyth", "--dst", "{tmp}/x.onnx"],
         r"checkpoint {tmp}/x.pyth does not exist"),
    ],
    "gta_slowfast.tools.ensemble": [
        (["--preds", "{tmp}/x.pkl"], r"predictions file {tmp}/x.pkl does not exist"),
    ],
    "gta_slowfast.tools.predict": [
        (["--checkpoint", "{tmp}/x.pyth", "{tmp}/v.mp4"],
         r"checkpoint {tmp}/x.pyth does not exist"),
        (["--checkpoint", "{tmp}/x.pyth", "--top", "0", "{tmp}/v.mp4"],
         r"--top 0, --batch-size 8: both must be >= 1"),
    ],
    "gta_slowfast.tools.visualize": [
        (["--cfg", "{cfg}", "--random-clip", "NONLOCAL.TYPE", "foo"],
         r"NONLOCAL.TYPE='foo' is not a registered variant"),
    ],
}


def console_scripts():
    """{module: console script name} of setup.py's entry points."""
    with open(os.path.join(REPO, "setup.py")) as f:
        return {target.split(":")[0]: name
                for name, target in re.findall(r'"(gta-[\w-]+)=([\w.]+:\w+)"', f.read())}


def module_of(command):
    return LAUNCH if command == RUN_NET else command


def invoked_name(command):
    """The name a command's usage and errors give it: the script, or ``python -m module``."""
    return os.path.basename(command) if command == RUN_NET else f"python -m {command}"


def run(command, *args):
    """``command`` with ``args`` in a fresh Python, from the repository."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    head = [os.path.join(REPO, command)] if command == RUN_NET else ["-m", command]
    return subprocess.run([sys.executable, *head, *args], capture_output=True, text=True,
                          env=env, timeout=600, cwd=REPO)


def options(parser):
    """The option strings of ``parser`` that --help shows."""
    return [s for a in parser._actions if a.help != argparse.SUPPRESS for s in a.option_strings]


def sub_commands(parser):
    """{name: parser} of the sub-commands of ``parser`` (none: {})."""
    return {name: sub for a in parser._actions if isinstance(a, argparse._SubParsersAction)
            for name, sub in a.choices.items()}


def test_every_command_has_examples_and_mistakes_here():
    assert sorted(EXAMPLES) == sorted(MISTAKES) == sorted(COMMANDS)


@pytest.mark.parametrize("module", TOOL_MODULES)
def test_every_command_exposes_parser_and_main(module):
    """``parser()`` is the command's ArgumentParser (what the docs are checked against) and
    ``main(argv=None)`` runs it."""
    tool = importlib.import_module(module)
    assert isinstance(tool.parser(), argparse.ArgumentParser)
    assert list(inspect.signature(tool.main).parameters) == ["argv"]
    assert inspect.signature(tool.main).parameters["argv"].default is None


@pytest.mark.parametrize("command", COMMANDS)
def test_help_names_the_command_and_shows_its_examples_and_options(command):
    result = run(command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {invoked_name(command)} "), result.stdout[:200]
    assert EXAMPLES[command] in result.stdout
    tool = importlib.import_module(module_of(command))
    assert tool.__doc__.strip().splitlines()[0] in result.stdout
    parser = tool.parser()
    for option in options(parser):
        assert option in result.stdout, option
    for name in sub_commands(parser):
        assert name in result.stdout, name


@pytest.mark.parametrize("module,name", [
    (module, name) for module in TOOL_MODULES
    for name in sub_commands(importlib.import_module(module).parser())
])
def test_sub_command_help_shows_its_options(module, name, capsys):
    tool = importlib.import_module(module)
    with pytest.raises(SystemExit) as exit_info:
        tool.main([name, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ") and f" {name} " in out.splitlines()[0]
    for option in options(sub_commands(tool.parser())[name]):
        assert option in out, option


@pytest.mark.parametrize("command,args,message", [
    (command, args, message) for command, mistakes in sorted(MISTAKES.items())
    for args, message in mistakes
])
def test_a_mistake_is_one_line_naming_it(tmp_path, monkeypatch, capsys, command, args, message):
    """In this process, as pip's console script calls ``main`` (sys.argv[0] its path); the
    script run_net.py in a fresh Python."""
    fill = dict(cfg=config_path(SHIPPED), tmp=str(tmp_path))
    argv = [a.format(**fill) for a in args]
    escaped = {k: re.escape(v) for k, v in fill.items()}
    if command == RUN_NET:
        check_one_line(run(command, *argv), invoked_name(command), message.format(**escaped))
        return
    script = console_scripts()[command]
    monkeypatch.setattr(sys, "argv", [f"/venv/bin/{script}", *argv])
    with pytest.raises(SystemExit) as exit_info:
        importlib.import_module(command).main(argv)
    out, err = capsys.readouterr()
    check_one_line(subprocess.CompletedProcess(argv, exit_info.value.code, out, err), script,
                   message.format(**escaped))


def test_every_command_is_a_console_script_of_setup_py():
    scripts = console_scripts()
    assert sorted(scripts) == sorted(TOOL_MODULES)
    assert scripts["gta_slowfast.tools.curves"] == "gta-curves"
