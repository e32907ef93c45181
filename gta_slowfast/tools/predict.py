"""
Classifies your own videos with a trained checkpoint: the top classes of each video, by name,
with their scores.

    python -m gta_slowfast.tools.predict --checkpoint out/checkpoints/checkpoint_epoch_00006.pyth \\
        clips/ talk.webm more_videos.csv
    python -m gta_slowfast.tools.predict --checkpoint ssv2_gta.pyth --views --top 3 \\
        --labels something-something-v2-labels.json 20bn-something-something-v2/ \\
        --output results.csv
    python -m gta_slowfast.tools.predict --checkpoint ssv2_gta.pyth --window 2 --stride 1 \\
        long_video.mp4 --output windows.json
    python -m gta_slowfast.tools.predict --cfg SSv2/R2D_R50_GTA_8x1.yaml \\
        --checkpoint ssv2_gta.pyth video.webm DATA.NUM_FRAMES 8

Videos: video files (any container PyAV reads), folders (their video files, and their
sub-folders of JPEG frames; a folder of frames is itself one video), and .csv / .txt lists of
videos (the first field of each line, ``path label`` as PySlowFast's Kinetics lists them;
relative paths are taken from the list's folder).

The model is the checkpoint's: built from the config it stores (as PySlowFast's trainers save
it), or from --cfg (a YAML file or a shipped config's name), with the KEY VALUE overrides, and
loaded exactly (every tensor of the model, head included). Class names come from --labels (one
name a line, or Something-Something v2's JSON), else from the label file of the config's test
dataset (DATA.PATH_TO_DATA_DIR); classes without names are shown by index.

Each video is read as the config's test reads it (the same decoder, frame sampling, resizing,
crops and normalisation): one view (the centre clip, centre crop), or with --views the test's
TEST.NUM_ENSEMBLE_VIEWS clips x TEST.NUM_SPATIAL_CROPS crops, whose scores (softmax) are
averaged; that is the test's per-video score divided by its view count (the maximum with
DATA.ENSEMBLE_METHOD max). --window W --stride S scores every window of W seconds starting every
S seconds (a row per window: start, end, top classes), the last window being the last that fits
whole; a video shorter than a window is one window.

A video that cannot be read is named on stderr and skipped; the command ends with exit status 1
when any was, after the others. --output writes every row to a .csv (video, start, end, rank,
class, name, score) or a .json file.
"""

import csv
import json
import os
import sys

import torch
from tqdm import tqdm

from .. import cli
from ..datasets.decoding import FRAME_EXTENSIONS, UnreadableVideo
from ..factory import create_model, load_video, test_views, top_classes

MODULE = "gta_slowfast.tools.predict"
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg", ".ogv")
LIST_EXTENSIONS = (".csv", ".txt")
EXIT_VIDEO_FAILED = 1


def _is_frame_folder(folder):
    return any(name.lower().endswith(FRAME_EXTENSIONS) for name in os.listdir(folder))


def _listed_videos(path):
    """The videos a .csv / .txt list names: the first field of each non-empty line."""
    root = os.path.dirname(os.path.abspath(path))
    videos = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.replace(",", " ").split()
            if fields:
                videos.append(fields[0] if os.path.isabs(fields[0])
                              else os.path.join(root, fields[0]))
    return videos


def expand_inputs(paths):
    """The videos the command-line ``paths`` name, in order: files, the videos of folders, the
    entries of lists. A path that does not exist is kept, to be reported as unreadable."""
    videos = []
    for path in paths:
        if os.path.isdir(path):
            if _is_frame_folder(path):
                videos.append(path)
                continue
            for name in sorted(os.listdir(path)):
                entry = os.path.join(path, name)
                if name.lower().endswith(VIDEO_EXTENSIONS) and os.path.isfile(entry):
                    videos.append(entry)
                elif os.path.isdir(entry) and _is_frame_folder(entry):
                    videos.append(entry)
        elif path.lower().endswith(LIST_EXTENSIONS) and os.path.isfile(path):
            videos.extend(_listed_videos(path))
        else:
            videos.append(path)
    return videos


def pick_device(name=None):
    """The torch device ``name``, else the GPU where there is one, else the CPU."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"--device {name!r}: {err}") from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: this PyTorch sees no CUDA GPU")
    return device


def ensemble(cfg, scores):
    """One score vector from the scores [views, classes] of a video's views: their mean, or
    their maximum where the config's test takes it (``DATA.ENSEMBLE_METHOD max``)."""
    if cfg.DATA.get("ENSEMBLE_METHOD", "sum") == "max":
        return scores.max(dim=0).values
    return scores.mean(dim=0)


@torch.no_grad()
def score_clips(model, clips, device, batch_size):
    """Scores [clips, classes] of the model for ``clips`` (each a list of pathway tensors
    [1, C, T, H, W]), ``batch_size`` clips per forward pass."""
    scores = []
    for first in range(0, len(clips), batch_size):
        batch = clips[first:first + batch_size]
        pathways = [torch.cat(parts).to(device) for parts in zip(*batch)]
        scores.append(model(pathways).float().cpu())
    return torch.cat(scores)


def predict_video(model, path, device, multi_view=False, window=None, stride=None,
                  batch_size=8):
    """
    [(start s, end s, scores [classes])] of the video ``path``: the whole video, or each
    window; each segment's views scored and combined as the test combines them.
    """
    segments = load_video(path, model.cfg, test_views(model.cfg, multi_view), window, stride)
    clips = [clip for segment in segments for clip in segment.clips]
    scores = score_clips(model, clips, device, batch_size).split(len(segments[0].clips))
    return [(s.start, s.end, ensemble(model.cfg, x)) for s, x in zip(segments, scores)]


def result_rows(video, segments, names, k):
    """Rows (video, start, end, rank, class, name, score) of a video's segments."""
    rows = []
    for start, end, scores in segments:
        for rank, entry in enumerate(top_classes(scores, names, k), start=1):
            rows.append({"video": video, "start": round(start, 3), "end": round(end, 3),
                         "rank": rank, "class": entry.index, "name": entry.name,
                         "score": round(entry.score, 6)})
    return rows


def _class_name(row):
    return row["name"] if row["name"] is not None else f"class {row['class']}"


def _by_window(rows):
    groups = {}
    for row in rows:
        groups.setdefault((row["start"], row["end"]), []).append(row)
    return list(groups.items())


def format_rows(video, rows, windowed):
    """The lines printed for one video: its top classes, one a line, or a line per window."""
    lines = [video]
    if not windowed:
        width = max(len(_class_name(r)) for r in rows)
        lines += [f"  {r['rank']}. {_class_name(r):<{width}}  {r['score']:.4f}" for r in rows]
        return lines
    for (start, end), group in _by_window(rows):
        tops = ", ".join(f"{_class_name(r)} {r['score']:.4f}" for r in group)
        lines.append(f"  {start:8.2f} - {end:8.2f} s  {tops}")
    return lines


def write_output(path, rows, failed):
    """Every row to ``path``: CSV (one row per video, window and rank) or JSON (per video, its
    windows with their top classes; unreadable videos with their error)."""
    if path.lower().endswith(".csv"):
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, ["video", "start", "end", "rank", "class", "name", "score"])
            writer.writeheader()
            writer.writerows(rows)
        return
    videos = {}
    for row in rows:
        videos.setdefault(row["video"], []).append(row)
    result = [{"video": video,
               "windows": [{"start": start, "end": end,
                            "top": [{k: r[k] for k in ("rank", "class", "name", "score")}
                                    for r in group]}
                           for (start, end), group in _by_window(video_rows)]}
              for video, video_rows in videos.items()]
    result += [{"video": video, "error": error} for video, error in failed]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)


def parser():
    """The command's arguments: the checkpoint, videos then KEY VALUE overrides, the options."""
    parser = cli.argument_parser(MODULE, __doc__, fallback="gta-predict")
    parser.add_argument("--checkpoint", required=True, metavar="FILE",
                        help="PySlowFast checkpoint (.pyth) of the trained model")
    parser.add_argument("--cfg", metavar="FILE",
                        help="config of the model (a YAML file or a shipped config's name such "
                             "as SSv2/R2D_R50_GTA_8x1.yaml; default: the config the checkpoint "
                             "stores)")
    parser.add_argument("videos", nargs="+", metavar="VIDEO",
                        help="video files, folders of videos or of frames, .csv/.txt lists; "
                             "after them, KEY VALUE overrides of the config")
    parser.add_argument("--labels", metavar="FILE",
                        help="class names: one a line in index order, or a JSON "
                             "{\"name\": \"index\"} / list (default: the dataset's label file)")
    parser.add_argument("--top", type=int, default=5, metavar="K",
                        help="how many classes to show per video or window (default: 5)")
    parser.add_argument("--views", action="store_true",
                        help="the test's TEST.NUM_ENSEMBLE_VIEWS x TEST.NUM_SPATIAL_CROPS views, "
                             "averaged (default: the centre clip, centre crop)")
    parser.add_argument("--window", type=float, metavar="SECONDS",
                        help="score windows of this length instead of the whole video")
    parser.add_argument("--stride", type=float, metavar="SECONDS",
                        help="seconds between window starts (default: the window length)")
    parser.add_argument("--output", metavar="FILE", help="write the results to a .csv or .json")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N",
                        help="clips per forward pass (default: 8)")
    parser.add_argument("--device", help="torch device, e.g. cpu, cuda, cuda:1 (default: the "
                                          "GPU where there is one, else the CPU)")
    return parser


def split_videos_and_overrides(words):
    """The positional words: videos first, then KEY VALUE overrides (the first word written
    like a config key, upper case with a dot, that is no file starts them)."""
    for i, word in enumerate(words):
        head = word.split(".")[0]
        if "." in word and head.isupper() and not os.path.exists(word):
            return words[:i], words[i:]
    return words, []


def check_arguments(args):
    if args.top < 1 or args.batch_size < 1:
        raise ValueError(f"--top {args.top}, --batch-size {args.batch_size}: both must be >= 1")
    if args.stride is not None and args.window is None:
        raise ValueError("--stride needs --window (the length of the windows)")
    for flag, value in (("--window", args.window), ("--stride", args.stride)):
        if value is not None and not value > 0:
            raise ValueError(f"{flag} {value}: expected a positive number of seconds")
    if args.output and not args.output.lower().endswith((".csv", ".json")):
        raise ValueError(f"--output {args.output}: expected a .csv or .json file")


def run(args):
    check_arguments(args)
    device = pick_device(args.device)
    caller = (cli.program_name(MODULE, "gta-predict"), "--cfg")
    model = create_model(args.cfg, checkpoint=args.checkpoint, opts=args.opts,
                         labels=args.labels, require_class_names=True, caller=caller)
    model.to(device)
    videos = expand_inputs(args.videos)
    if not videos:
        raise FileNotFoundError(f"no videos in {' '.join(args.videos)}")
    rows, failed = [], []
    progress = tqdm(videos, desc="videos", unit="video", file=sys.stderr,
                    disable=True if len(videos) < 2 else None)
    for video in progress:
        try:
            segments = predict_video(model, video, device, args.views, args.window,
                                     args.stride, args.batch_size)
        except (UnreadableVideo, FileNotFoundError) as err:
            failed.append((video, str(err)))
            tqdm.write(f"{cli.program_name(MODULE, 'gta-predict')}: cannot read {video}: {err}",
                       file=sys.stderr)
            continue
        video_rows = result_rows(video, segments, model.class_names, args.top)
        rows.extend(video_rows)
        tqdm.write("\n".join(format_rows(video, video_rows, args.window is not None)))
    if args.output:
        write_output(args.output, rows, failed)
        print(f"wrote {len(rows)} rows to {args.output}")
    if failed:
        print(f"{len(failed)} of {len(videos)} videos could not be read: "
              + ", ".join(v for v, _ in failed), file=sys.stderr)
        return EXIT_VIDEO_FAILED
    return 0


def main(argv=None):
    p = parser()
    args = p.parse_intermixed_args(argv)
    args.videos, args.opts = split_videos_and_overrides(args.videos)
    if not args.videos:
        p.error(f"no videos before the KEY VALUE overrides {args.opts}")
    with cli.reported_errors(p, args.debug):
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
