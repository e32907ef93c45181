"""The complexity command against the paper's R2D-50 table (SSv1: 8 x 224^2, 174 classes)."""

import os

import pytest
from conftest import CONFIGS

from gta_slowfast.tools import complexity

# Paper Table 1 / 2b: (params M, GFLOPs) per config.
PAPER = {
    "R2D_R50_8x1.yaml": (23.9, 32.7),
    "R2D_R50_NL_8x1.yaml": (31.2, 61.1),
    "R2D_R50_SA_8x1.yaml": (27.5, 41.7),
    "R2D_R50_TA_8x1.yaml": (27.5, 41.0),
    "R2D_R50_DNL_8x1.yaml": (31.2, 49.9),
    "R2D_R50_SA_TAPE_8x1.yaml": (31.2, 49.9),
    "R2D_R50_GTA_8x1.yaml": (31.2, 50.2),
}


@pytest.fixture(scope="module")
def rows():
    paths = [os.path.join(CONFIGS, "SSv1", name) for name in PAPER]
    return {os.path.basename(r["config"]): r for r in complexity.complexity_table(paths)}


def test_params_within_one_percent_of_the_paper(rows):
    for name, (params, _) in PAPER.items():
        assert abs(rows[name]["params_m"] - params) / params < 0.01, (name, rows[name])


def test_added_flops_within_five_percent_of_the_paper(rows):
    base = PAPER["R2D_R50_8x1.yaml"][1]
    for name, (_, gflops) in PAPER.items():
        if name in ("R2D_R50_8x1.yaml", "R2D_R50_NL_8x1.yaml"):
            continue
        paper_added = gflops - base
        assert abs(rows[name]["added_gflops"] - paper_added) / paper_added < 0.05, (
            name, rows[name])


def test_stock_nonlocal_is_cheaper_than_the_papers_nl(rows):
    """PySlowFast's NL max-pools before projecting phi and g: fewer FLOPs than the paper's 61.1."""
    nl = rows["R2D_R50_NL_8x1.yaml"]
    assert 54.0 < nl["gflops"] < 56.0
    assert rows["R2D_R50_GTA_8x1.yaml"]["gflops"] < nl["gflops"]


def test_cli_prints_markdown_and_json(tmp_path, capsys):
    out = tmp_path / "rows.json"
    base = os.path.join(CONFIGS, "SSv1", "R2D_R50_8x1.yaml")
    complexity.main(["--cfg", base, "--json", str(out), "DATA.TRAIN_CROP_SIZE", "112"])
    text = capsys.readouterr().out
    assert "| R2D_R50_8x1.yaml | - | 8 | 112 | 23.86 |" in text
    assert out.exists()
