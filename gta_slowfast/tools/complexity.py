"""
Parameters and fvcore GFLOPs of one or more configs, as a Markdown table.

    python -m gta_slowfast.tools.complexity --cfg configs/SSv1/R2D_R50_8x1.yaml \\
        configs/SSv1/R2D_R50_GTA_8x1.yaml [KEY VALUE ...]

The first config is the base: the table also gives the GFLOPs each model adds over it. KEY VALUE
overrides after the last config file apply to every config (e.g. DATA.NUM_FRAMES 16). FLOPs
are counted as fvcore counts them (one multiply-add is one FLOP) for one clip at
DATA.TRAIN_CROP_SIZE, on the CPU.
"""

import json
import os
import sys

from .. import cli, load_config
from ..complexity import any_block, model_complexity


def complexity_table(paths, opts=None):
    """Rows of {config, type, frames, crop, params_m, gflops, added_gflops} for the configs at
    ``paths``, each with the ``KEY VALUE`` overrides ``opts``; added GFLOPs are over the
    first."""
    rows = []
    for path in paths:
        cfg = load_config(path, opts)
        params, gflops = model_complexity(cfg)
        rows.append(
            dict(
                config=path,
                type=cfg.NONLOCAL.TYPE if any_block(cfg) else "-",
                frames=cfg.DATA.NUM_FRAMES,
                crop=cfg.DATA.TRAIN_CROP_SIZE,
                params_m=round(params, 3),
                gflops=round(gflops, 2),
            )
        )
    for row in rows:
        row["added_gflops"] = round(row["gflops"] - rows[0]["gflops"], 2)
    return rows


def markdown(rows):
    """The rows as a Markdown table."""
    lines = [
        "| config | block | frames | crop | params (M) | GFLOPs | added GFLOPs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {os.path.basename(r['config'])} | {r['type']} | {r['frames']} | {r['crop']} | "
            f"{r['params_m']:.2f} | {r['gflops']:.2f} | {r['added_gflops']:+.2f} |"
        )
    return "\n".join(lines)


def parser():
    """The command's arguments: ``--cfg`` files (the first is the base), ``--json``, and the
    ``KEY VALUE`` overrides for all."""
    p = cli.argument_parser("gta_slowfast.tools.complexity", __doc__)
    p.add_argument("--json", help="also write the rows to this JSON file")
    cli.add_config_arguments(
        p,
        cfg_help="config files, the first is the base; KEY VALUE overrides (for all) may "
        "follow the last one",
        opts_help="KEY VALUE config overrides for all",
    )
    return p


def main(argv=None):
    p = parser()
    args = cli.parse_config_arguments(p, argv)
    with cli.reported_errors(p, args.debug):
        rows = complexity_table(args.cfg_files, args.opts)
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
