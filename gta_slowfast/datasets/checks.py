"""Pre-flight checks of CSV video datasets (Kinetics layout): clear errors before training."""

import os

CSV_DATASETS = ("kinetics",)
PROBED_VIDEOS = 4


def check_csv_split(cfg, split):
    """
    Checks ``DATA.PATH_TO_DATA_DIR/<split>.csv`` of a Kinetics-layout dataset: the file exists
    and is not empty, every line is ``path<sep>label`` with an integer label below
    MODEL.NUM_CLASSES, every video file exists, and the first few open with PyAV. Returns the
    number of videos; raises ValueError / FileNotFoundError naming the file and line.
    """
    import av

    root = cfg.DATA.PATH_TO_DATA_DIR
    if not root or not os.path.isdir(root):
        raise FileNotFoundError(
            f"DATA.PATH_TO_DATA_DIR={root!r} is not a directory (it must hold {split}.csv)"
        )
    csv_path = os.path.join(root, f"{split}.csv")
    if not os.path.isfile(csv_path):
        raise FileNotFoundError(f"{csv_path} does not exist (DATA.PATH_TO_DATA_DIR={root!r})")
    separator = cfg.DATA.get("PATH_LABEL_SEPARATOR", " ")
    videos, missing = [], []
    with open(csv_path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = line.strip().split(separator) if separator != " " else line.split()
            if len(fields) != 2:
                raise ValueError(
                    f"{csv_path}:{number}: expected 'path{separator}label', got {line.strip()!r}"
                )
            path, label = fields
            if not label.lstrip("-").isdigit() or not 0 <= int(label) < cfg.MODEL.NUM_CLASSES:
                raise ValueError(
                    f"{csv_path}:{number}: label {label!r} is not an integer in "
                    f"[0, MODEL.NUM_CLASSES={cfg.MODEL.NUM_CLASSES})"
                )
            full = os.path.join(cfg.DATA.PATH_PREFIX, path)
            videos.append(full)
            if not os.path.isfile(full):
                missing.append(f"{csv_path}:{number}: {full}")
    if not videos:
        raise ValueError(f"{csv_path} lists no videos")
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of {len(videos)} videos in {csv_path} do not exist, first: "
            + "; ".join(missing[:5])
        )
    for path in videos[:PROBED_VIDEOS]:
        try:
            with av.open(path) as container:
                if not container.streams.video:
                    raise ValueError("no video stream")
        except Exception as err:
            raise ValueError(f"video {path} (listed in {csv_path}) is unreadable: {err}") from err
    return len(videos)
