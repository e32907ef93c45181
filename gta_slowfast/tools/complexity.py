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

import torch

from .. import cli


def measure(cfg):
    """(params in millions, GFLOPs) of the model of ``cfg`` for one clip."""
    from fvcore.nn import FlopCountAnalysis

    from .. import build_model, dummy_inputs

    cfg.NUM_GPUS = 0
    model = build_model(cfg).eval()
    params = sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        flops = FlopCountAnalysis(model, (dummy_inputs(cfg),))
        flops.unsupported_ops_warnings(False)
        flops.uncalled_modules_warnings(False)
        total = flops.total()
    return params / 1e6, total / 1e9


def complexity_table(paths, opts=None):
    """Rows of {config, type, params_m, gflops, added_gflops} for the configs at ``paths``."""
    from .. import load_config

    rows = []
    for path in paths:
        cfg = load_config(path, opts)
        params, gflops = measure(cfg)
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


def any_block(cfg):
    return any(indices for stage in cfg.NONLOCAL.LOCATION for indices in stage)


def markdown(rows):
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


def main(argv=None):
    parser = cli.argument_parser("gta_slowfast.tools.complexity", __doc__)
    parser.add_argument("--json", help="also write the rows to this JSON file")
    cli.add_config_arguments(
        parser,
        cfg_help="config files, the first is the base; KEY VALUE overrides (for all) may "
        "follow the last one",
        opts_help="KEY VALUE config overrides for all",
    )
    args = cli.parse_config_arguments(parser, argv)
    with cli.reported_errors(parser, args.debug):
        rows = complexity_table(args.cfg_files, args.opts)
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
