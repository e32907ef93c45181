"""Pre-flight checks of CSV video datasets (Kinetics layout): clear errors before training."""

import os

CSV_DATASETS = ("kinetics",)
PROBED_VIDEOS = 4


def check_csv_split(cfg, split):
    """
    Checks ``DATA.PATH_TO_DATA_DIR/<split>.csv`` of a Kinetics-layout dataset: the file exists
    and is not empty, every line is ``path<sep>label`` with an integer label below
    MODEL.NUM_CLASSES, every video file exists, and the first few open with PyAV. Returns the
    video paths; raises ValueError / FileNotFoundError naming the file and line.
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
    return videos


def check_pyslowfast_decoding(cfg, path):
    """
    Decodes the video at ``path`` through PySlowFast's own ``decoder.decode`` as its Kinetics
    dataset does for training, and raises if no frames come back. PySlowFast main's PyAV path
    has failed on every video since the August 2022 decoder rewrite (commit adc55ca: ``decode``
    passes lists to ``pyav_decode``), which its Kinetics dataset only reports as a batch of
    ``None`` many retries later.
    """
    import inspect

    from slowfast.datasets import decoder
    from slowfast.datasets import video_container as container

    takes_lists = "time_diff_prob" in inspect.signature(decoder.decode).parameters
    rate, frames = cfg.DATA.SAMPLING_RATE, cfg.DATA.NUM_FRAMES
    if takes_lists:
        video = container.get_video_container(path, False, cfg.DATA.DECODING_BACKEND)
        result = decoder.decode(
            video, [rate], [frames], -1, 1, video_meta={}, target_fps=cfg.DATA.TARGET_FPS,
            backend=cfg.DATA.DECODING_BACKEND, max_spatial_scale=0,
        )[0]
        result = None if result is None or result[0] is None else result[0]
    else:  # the PyPI snapshot: PyAV only, one clip
        result = decoder.decode(container.get_video_container(path), rate, frames, -1, 1)
    if result is None:
        raise RuntimeError(
            f"PySlowFast's decoder (DATA.DECODING_BACKEND={cfg.DATA.DECODING_BACKEND!r}) "
            f"returns no frames for {path}. PySlowFast main's 'pyav' backend fails on every "
            f"video since commit adc55ca (2022-08); use 'torchvision' with a torchvision built "
            f"with its video_reader, or a PySlowFast checkout from before that commit"
        )
