"""
Class-name files, read in one place for the datasets and the model API: one name a line
(Something-Something v1's ``something-something-v1-labels.csv``), a JSON ``{"<name>":
"<index>"}`` (v2's ``something-something-v2-labels.json``) or a JSON list of names.
"""

import json
import os

from .video_dataset import ReleaseError


def read_label_file(path):
    """
    The class names of the label file ``path`` in index order: its lines (blank ones skipped,
    the file's order) unless it ends in ``.json``; else a JSON list of names, or a JSON
    ``{"<name>": "<index>"}`` whose indices are the integers 0..N-1, each once.

    Raises FileNotFoundError where ``path`` does not exist, ReleaseError (a ValueError) naming
    the file where it is not one of these forms.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"label file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if not path.lower().endswith(".json"):
        return [line.strip() for line in text.splitlines() if line.strip()]
    try:
        labels = json.loads(text)
    except json.JSONDecodeError as err:
        raise ReleaseError(f"label file {path} is not valid JSON: {err}") from err
    if isinstance(labels, list) and all(isinstance(n, str) for n in labels):
        return labels
    if isinstance(labels, dict):
        try:
            by_index = {int(i): name for name, i in labels.items()}
        except (TypeError, ValueError) as err:
            raise ReleaseError(
                f"label file {path}: every index must be an integer: {err}"
            ) from err
        if sorted(by_index) == list(range(len(labels))):
            return [by_index[i] for i in range(len(labels))]
    raise ReleaseError(
        f"label file {path}: expected a JSON list of names or {{\"<name>\": \"<index>\"}} "
        f"with the indices 0..N-1, got {type(labels).__name__}"
    )
