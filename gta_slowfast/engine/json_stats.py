"""
The summary JSON stats of a run in ``OUTPUT_DIR/json_stats.log``, one ``json_stats: {...}``
line per stats dict as PySlowFast main's ``logging.log_json_stats(stats, output_dir)`` writes
them: the epoch summaries (``train_epoch``, ``val_epoch``) and the final test accuracy
(``test_final``).

PySlowFast main's meters write their epoch summaries to the file themselves, but its TestMeter
logs ``test_final`` to stdout only; the snapshot's ``log_json_stats`` writes no file at all.
``write_json_stats`` adds what the installed generation leaves out, so that every run of
``run_net.py`` (either trainer) leaves the same file.
"""

import json
import logging
import os

import slowfast.utils.logging as sf_logging

from .. import compat

FILENAME = "json_stats.log"
PREFIX = "json_stats: "
SUMMARIES = ("train_epoch", "val_epoch", "test_final")


def missing_summaries():
    """The summaries the installed PySlowFast's meters do not write to json_stats.log
    (``compat.JSON_STATS_WRITTEN``: main's write the epoch summaries, the snapshot's none)."""
    return tuple(kind for kind in SUMMARIES if kind not in compat.JSON_STATS_WRITTEN)


class JsonStatsFile(logging.Handler):
    """Appends the ``json_stats:`` lines of PySlowFast's ``log_json_stats`` whose ``_type``
    (or ``split``) is one of ``kinds`` to ``path``, as written."""

    def __init__(self, path, kinds):
        super().__init__(level=logging.INFO)
        self.path = path
        self.kinds = tuple(kinds)

    def emit(self, record):
        message = record.getMessage()
        if not message.startswith(PREFIX):
            return
        try:
            stats = json.loads(message[len(PREFIX):])
        except ValueError:
            return
        if stats.get("_type", stats.get("split")) in self.kinds:
            with open(self.path, "a") as f:
                f.write(message + "\n")


def write_json_stats(output_dir, kinds=None):
    """
    From now on, writes the summaries ``kinds`` (default: ``missing_summaries()``) that
    PySlowFast logs to ``output_dir/json_stats.log``. Replaces the handler of an earlier call
    in this process (one run at a time); call it on the master process only. Returns the
    handler.
    """
    logger = logging.getLogger(sf_logging.__name__)
    for handler in [h for h in logger.handlers if isinstance(h, JsonStatsFile)]:
        logger.removeHandler(handler)
    handler = JsonStatsFile(os.path.join(output_dir, FILENAME),
                            missing_summaries() if kinds is None else kinds)
    logger.addHandler(handler)
    return handler
