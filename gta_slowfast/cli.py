"""
What every gta_slowfast command shares: its name as the user invoked it, the ``--cfg`` files
followed by ``KEY VALUE`` overrides, its log lines, and how it reports a user's mistake.

A mistake (a config key or value, a file, a dataset, a checkpoint that does not fit) is raised
by the checks as a ValueError, KeyError or FileNotFoundError whose message names the key, file
or id, what was expected and what came. ``reported_errors`` ends the command on it with that
message as one line on stderr and exit status 2, as argparse does for a bad option; with
``--debug`` the exception propagates, traceback included.
"""

import argparse
import contextlib
import logging
import os
import sys

USER_ERRORS = (ValueError, KeyError, FileNotFoundError)
CONFIG_SUFFIXES = (".yaml", ".yml")
DEBUG_FLAG = "--debug"
EXIT_USER_ERROR = 2


def program_name(module, fallback=None):
    """
    The name the user invoked the command ``module`` by: ``python -m <module>`` when it runs
    as a module, else the script or entry point (``run_net.py``, ``gta-run-net``); ``fallback``
    (default ``python -m <module>``) inside another program.
    """
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name == module:
        return f"python -m {module}"
    invoked = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if invoked in ("", "-c", "__main__.py"):
        return fallback or f"python -m {module}"
    return invoked


def argument_parser(module, doc, fallback=None):
    """An ArgumentParser named as ``program_name`` says, with ``doc`` as its description
    printed as written (line breaks of the examples kept) and a ``--debug`` flag."""
    parser = argparse.ArgumentParser(
        prog=program_name(module, fallback),
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        DEBUG_FLAG, action="store_true",
        help="on an error, show the Python traceback instead of the one-line message",
    )
    return parser


def add_config_arguments(parser, cfg_help, opts_help, required=True):
    """``--cfg FILE [FILE ...]`` (``args.cfg_files``; ``required`` or not) and the
    ``KEY VALUE`` overrides (``args.opts``); ``parse_config_arguments`` tells them apart."""
    parser.add_argument("--cfg", dest="cfg_files", nargs="+", required=required, metavar="FILE",
                        help=cfg_help)
    add_override_arguments(parser, opts_help)


def add_override_arguments(parser, opts_help):
    """The ``KEY VALUE`` config overrides (``args.opts``): every word after the options."""
    parser.add_argument("opts", nargs=argparse.REMAINDER, default=None, metavar="KEY VALUE",
                        help=opts_help)


def setup_logging(fmt="%(message)s", stream=None):
    """Log lines of level INFO and above, as ``fmt`` formats them, on ``stream`` (default:
    stderr); a command's progress, not its result, which it prints on stdout."""
    logging.basicConfig(level=logging.INFO, format=fmt, stream=stream)


def parse_config_arguments(parser, argv=None):
    """
    ``parser.parse_args(argv)`` with the convention of PySlowFast's ``run_net.py``: ``--cfg``
    takes config files (``.yaml``) first; what follows the last one are ``KEY VALUE``
    overrides, as are the words after the other options. ``--debug`` is recognised among the
    overrides too; any other option there is an error, since overrides come last.
    """
    args = parser.parse_args(argv)
    given = args.cfg_files or []
    files = [f for f in given if f.endswith(CONFIG_SUFFIXES)]
    if given and (not files or given[: len(files)] != files):
        parser.error(
            f"--cfg expects config files ({'/'.join(CONFIG_SUFFIXES)}) first, then KEY VALUE "
            f"overrides; got {given}"
        )
    opts = given[len(files):] + list(args.opts or [])
    if DEBUG_FLAG in opts:
        opts.remove(DEBUG_FLAG)
        args.debug = True
    options = [word for word in opts[::2] if word.startswith("--")]
    if options:
        parser.error(f"{options[0]}: options go before the KEY VALUE overrides, got {opts}")
    if given:
        args.cfg_files = files
    args.opts = opts
    return args


def error_message(err):
    """The message of a user error: KeyError's own, not its repr."""
    if isinstance(err, KeyError) and len(err.args) == 1 and isinstance(err.args[0], str):
        return err.args[0]
    return str(err)


@contextlib.contextmanager
def reported_errors(parser, debug=False):
    """Ends the command on a user error (``USER_ERRORS``) with its message as one line on
    stderr, prefixed by the program name, and exit status 2; ``debug``: lets it propagate."""
    try:
        yield
    except USER_ERRORS as err:
        if debug:
            raise
        message = " ".join(error_message(err).split())
        parser.exit(EXIT_USER_ERROR, f"{parser.prog}: error: {message} ({DEBUG_FLAG} shows "
                                     f"the traceback)\n")


class UserError(ValueError):
    """A user error of one of several inputs (a config file of a run), its message prefixed
    with which."""


@contextlib.contextmanager
def about(what):
    """Prefixes the message of a user error raised inside with ``what`` (e.g. the config
    file), unless the message already names it."""
    try:
        yield
    except USER_ERRORS as err:
        message = error_message(err)
        if what in message:
            raise
        raise UserError(f"{what}: {message}") from err
