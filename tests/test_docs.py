"""
The docs' commands and links still work, checked without training or running anything.

Every command of the fenced ``bash`` / ``sh`` / ``console`` blocks of the docs (and every
``$ ``-prompted command of their output blocks) is checked by what it is: a project tool's
arguments by the tool's own ``parser()``, the configs it names exist and load with its
``KEY VALUE`` overrides through ``gta_slowfast.load_config``; a pip, torchrun, sbatch, bash or cp
line by the files of this repository it names. The README's install and test commands are the
ones ``.ci/run`` runs. Every relative link and image of the docs resolves, anchors included.
``text`` blocks (synopses with ``[optional]`` parts) and output are not commands.
"""

import ast
import importlib
import os
import re
import shlex

import pytest

import gta_slowfast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = (
    "README.md", "INSTALL.md", "GETTING_STARTED.md", "TOOLS.md", "MODEL_ZOO.md",
    "projects/gta/README.md", "gta_slowfast/datasets/DATASET.md",
)
SHELL_LANGUAGES = ("bash", "sh", "shell", "console")
FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
CONFIG_PATH = re.compile(r"^configs/.+\.ya?ml$")
DOTTED_KEY = re.compile(r"^[A-Z][A-Z0-9_]*(\.[A-Z][A-Z0-9_]*)+$")
RUN_NET = "projects/gta/run_net.py"
LAUNCH_MODULE = "gta_slowfast.engine.launch"
# Shell lines that name nothing of this repository to check.
PLAIN = {("python3", "-m", "venv"), (".",), ("export",), ("ruff", "check", ".")}


def read(doc):
    """The text of ``doc``, a path from the repository root."""
    with open(os.path.join(ROOT, doc), encoding="utf-8") as f:
        return f.read()


def fenced_blocks(doc):
    """(language, first line number, text) of every fenced code block of ``doc``."""
    text = read(doc)
    return [(m.group(1), text.count("\n", 0, m.start(2)) + 1, m.group(2))
            for m in FENCE.finditer(text)]


def shell_commands(text, prompted):
    """(line offset, words) of each command of a shell block: continuation lines joined,
    comments dropped, ``&&`` chains split, ``$NAME`` of the block's assignments expanded. With
    ``prompted`` only the lines after a ``$ `` prompt are commands (the rest is output)."""
    commands, variables, current, start = [], {}, "", 0
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not current:
            if prompted:
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            start = i
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        current += line
        for name, value in variables.items():
            current = current.replace(f"${name}", value)
        words = shlex.split(current, comments=True)
        current = ""
        assignment = re.fullmatch(r"([A-Z_]+)=(.*)", words[0]) if len(words) == 1 else None
        if assignment:
            variables[assignment.group(1)] = assignment.group(2)
            continue
        chain = [[]]
        for word in words:
            if word == "&&":
                chain.append([])
            else:
                chain[-1].append(word)
        commands += [(start, part) for part in chain if part]
    return commands


def doc_commands():
    """One pytest parameter per command of the docs, named by file and line."""
    found = []
    for doc in DOCS:
        for language, line, text in fenced_blocks(doc):
            if language in SHELL_LANGUAGES or language == "":
                for offset, words in shell_commands(text, prompted=language == ""):
                    found.append(pytest.param(words, id=f"{doc}:{line + offset}"))
    return found


def entry_points():
    """``gta-x`` -> module, from setup.py's console_scripts."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        return dict(re.findall(r'"(gta-[\w-]+)=([\w.]+):main"', f.read()))


def extras():
    """The names of setup.py's extras_require."""
    with open(os.path.join(ROOT, "setup.py"), encoding="utf-8") as f:
        block = f.read().split("extras_require=", 1)[1].split("entry_points=", 1)[0]
    return set(re.findall(r'^\s*"([\w-]+)":', block, re.MULTILINE))


def tool_of(words):
    """(module, argv) of a project tool's command, or None."""
    if words[:2] == ["python", "-m"] and words[2].startswith("gta_slowfast."):
        return words[2], words[3:]
    if words[0] == "python" and words[1:2] == [RUN_NET]:
        return LAUNCH_MODULE, words[2:]
    if words[0].startswith("gta-"):
        module = entry_points().get(words[0])
        assert module, f"{words[0]} is no console_scripts entry point of setup.py"
        return module, words[1:]
    return None


def looks_like_key(word, defaults):
    """A dotted upper-case name (``DATA.NUM_FRAMES``), or a top-level key (``NUM_GPUS``)."""
    return bool(DOTTED_KEY.match(word)) or (word.isupper() and word in defaults)


def overrides(argv, defaults):
    """The ``KEY VALUE`` pairs that end ``argv``: from the first word written as a config key
    that is not an option's value."""
    for i, word in enumerate(argv):
        if looks_like_key(word, defaults) and (i == 0 or not argv[i - 1].startswith("-")):
            return argv[i:]
    return []


def check_tool(module_name, argv):
    """The configs ``argv`` names exist and load with its overrides; the tool's ``parser()``
    accepts ``argv``."""
    configs = [w for w in argv if CONFIG_PATH.match(w)]
    for path in configs:
        assert os.path.isfile(os.path.join(ROOT, path)), f"{path} does not exist"
    defaults = gta_slowfast.get_cfg()
    opts = overrides(argv, defaults)
    assert len(opts) % 2 == 0, f"KEY VALUE overrides in pairs, got {opts}"
    if configs:
        gta_slowfast.load_config(os.path.join(ROOT, configs[0]), opts)
    elif opts:
        defaults.merge_from_list(opts)
    make_parser = getattr(importlib.import_module(module_name), "parser", None)
    if make_parser is None:
        pytest.skip(f"{module_name} has no parser() to check the arguments with")
    try:
        make_parser().parse_args(argv)
    except SystemExit as exit_:
        pytest.fail(f"{module_name} refuses {argv} (exit status {exit_.code})")


def check_pip(argv):
    """``pip install -e`` of this repository names a setup.py and extras it has."""
    assert argv[0] == "install", f"pip {argv[0]}: only pip install is expected in the docs"
    for flag, word in zip(argv, argv[1:]):
        if flag != "-e":
            continue
        path, _, named = word.partition("[")
        path = path.replace("/path/to/gta_slowfast", ".")
        if path.startswith("/path/to/"):
            continue  # the reader's own checkouts (PySlowFast, PyTorchVideo)
        assert os.path.isfile(os.path.join(ROOT, path, "setup.py")), f"pip install -e {word}"
        unknown = set(filter(None, named.rstrip("]").split(","))) - extras()
        assert not unknown, f"pip install -e {word}: no extra {sorted(unknown)} in setup.py"


def check_torchrun(argv):
    """torchrun runs the launcher, whose arguments are checked as ``check_tool`` does."""
    script = next((i for i, w in enumerate(argv) if w.endswith(".py")), None)
    assert script is not None, f"torchrun {argv}: no script"
    assert argv[script] == RUN_NET, f"torchrun runs {argv[script]}, expected {RUN_NET}"
    check_tool(LAUNCH_MODULE, argv[script + 1:])


@pytest.mark.parametrize("words", doc_commands())
def test_doc_command(words):
    """Each command of the docs is accepted by what runs it, and names files that exist."""
    tool = tool_of(words)
    if tool:
        assert os.path.isfile(os.path.join(ROOT, RUN_NET))
        check_tool(*tool)
    elif words[0] == "pip":
        check_pip(words[1:])
    elif words[0] == "torchrun":
        check_torchrun(words[1:])
    elif words[0] in ("sbatch", "bash"):
        assert os.path.isfile(os.path.join(ROOT, words[1])), f"{words[1]} does not exist"
    elif words[0] == "cp":
        target = words[-1]
        for source in words[1:-1]:
            path = os.path.join(target, os.path.basename(source)) if target.endswith("/") \
                else target
            assert os.path.isfile(os.path.join(ROOT, path)), f"cp: {path} is no tracked file"
    elif words[:3] == ["python", "-m", "pytest"]:
        for path in (w for w in words[3:] if not w.startswith("-")):
            assert os.path.exists(os.path.join(ROOT, path)), f"pytest {path}: no such path"
    else:
        assert any(tuple(words[:len(p)]) == p for p in PLAIN), f"unchecked command {words}"


def heading_anchors(doc):
    """GitHub's anchors of the headings of ``doc``."""
    text = FENCE.sub("", read(doc))
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.+)$", text, re.MULTILINE)}


@pytest.mark.parametrize("doc", DOCS)
def test_doc_links_resolve(doc):
    """Every relative link and image of the docs names a file of the repository, and a
    heading of it where the link has an anchor."""
    broken = []
    for target in LINK.findall(FENCE.sub("", read(doc))):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(ROOT, os.path.dirname(doc), path)) if path \
            else os.path.join(ROOT, doc)
        if not os.path.exists(resolved):
            broken.append(target)
        elif anchor and anchor not in heading_anchors(os.path.relpath(resolved, ROOT)):
            broken.append(target)
    assert not broken, f"{doc}: links that do not resolve: {broken}"


@pytest.mark.parametrize("doc", DOCS)
def test_doc_python_compiles(doc):
    """The Python of the docs parses, names configs that exist and attributes
    ``gta_slowfast`` has."""
    for _, line, text in (b for b in fenced_blocks(doc) if b[0] == "python"):
        tree = ast.parse(text, filename=f"{doc}:{line}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and getattr(node.value, "id", "") == \
                    "gta_slowfast":
                assert hasattr(gta_slowfast, node.attr), f"{doc}:{line}: gta_slowfast.{node.attr}"
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    CONFIG_PATH.match(node.value):
                assert os.path.isfile(os.path.join(ROOT, node.value)), node.value


def quiet_dropped(words):
    """A pip command of .ci/run as the README writes it: without ``-q``."""
    return [w for w in words if w != "-q"] if words[:1] == ["pip"] else words


def test_readme_install_and_test_are_what_ci_runs():
    """The Quick start's install steps and test command are the ones .ci/run runs."""
    blocks = [shell_commands(text, False) for language, _, text in fenced_blocks("README.md")
              if language in SHELL_LANGUAGES]
    readme = [words for block in blocks for _, words in block]
    with open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8") as f:
        ci = [quiet_dropped(shlex.split(line)) for line in f if line.strip()[:1] not in ("", "#")]
    for words in readme:
        if words[0] in ("pip", "ruff") or words[:3] == ["python", "-m", "pytest"]:
            assert words in ci, f"README's {' '.join(words)} is not in .ci/run"
