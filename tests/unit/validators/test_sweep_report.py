"""The sweep report: DIR/report/ written whole from results.parquet, cells.csv and sweep.json."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from dpsynth.bundle import verify_manifest
from dpsynth.errors import DpsynthError
from dpsynth.validators import frontier, frontier_plots
from dpsynth.validators.context import RESULT_COLUMNS, AuditConfig
from dpsynth.validators.notice import BANNER, WATERMARK
from dpsynth.validators.report import NOTICE
from dpsynth.validators.sweep_report import COMPOSITION, write_sweep_report
from dpsynth.validators.suite import audit
from tests.unit.validators.sweep_tables import FAILED_CELL, cell_id, cells_frame, sweep_folder, sweep_table

SECTIONS = ["## Verdict", "## Price of privacy per group", "## Frontier plots", "## Failed cells", "## Detail per ε"]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    folder = sweep_folder(tmp_path_factory.mktemp("hand"), sweep_table(), cells_frame())
    return folder, write_sweep_report(folder)


def test_the_report_folder_is_written_whole(written):
    folder, paths = written
    report = folder / "report"
    assert {paths["markdown"], paths["json"], paths["html"]} == {report / "report.md", report / "report.json",
                                                                 report / "report.html"}
    plots = sorted(p.name for p in (report / "plots").iterdir())
    assert "utility.png" in plots and "subgroups_race.png" in plots and len(plots) == 8
    assert all(p.exists() for p in paths.values())
    verify_manifest(report)  # the staged folder's manifest lists exactly these files
    assert json.loads((report / "manifest.json").read_text())["kind"] == "audit"


def test_first_line_says_not_dp_and_that_cells_compose(written):
    _, paths = written
    first = paths["markdown"].read_text().splitlines()[0]
    assert NOTICE in first and "composes their ε" in first and COMPOSITION in first
    assert "18 cells (17 done, 1 failed)" in paths["markdown"].read_text() and "data `toy.csv`" in paths[
        "markdown"].read_text()


def test_sections_come_in_order_with_the_verdict_on_top(written):
    _, paths = written
    text = paths["markdown"].read_text()
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    verdict = text[text.index("## Verdict"):text.index("## Price of privacy")]
    assert "| dp-vae | ε = 2 | never (up to ε = 8) | at ε = 1: utility FAIL" in verdict
    assert "| dp-gan | ε = 4 (a larger ε fails again) |" in verdict
    assert "**dp-vae at ε = 2** (worst over 2 seed(s))" in verdict
    assert "| dp-gan | **FAIL** | **FAIL** | **WARN** | **FAIL** | — |" in verdict


def test_price_of_privacy_table_names_who_pays_first(written):
    _, paths = written
    text = paths["markdown"].read_text()
    price = text[text.index("## Price of privacy"):text.index("## Frontier plots")]
    assert "| dp-vae | sex | F | ε = 4 |" in price  # the summary: F degrades first by sex
    assert "| dp-vae | race | **black** | never (up to ε = 8) |" in price
    assert "| dp-vae | race | asian | ε = 8 | 0.760 / 0.800 | +0.040 | small |" in price


def test_every_plot_is_linked_with_a_sentence(written):
    folder, paths = written
    text = paths["markdown"].read_text()
    for key, path in paths.items():
        if key.startswith("plot:"):
            link = path.relative_to(folder / "report").as_posix()
            line = next(line for line in text.splitlines() if f"]({link})" in line)
            after = text[text.index(line) + len(line):].strip().splitlines()[0]
            assert after.endswith(".") and "ε" in after, key


def test_a_failed_cell_is_shown_with_its_reason(written):
    _, paths = written
    text = paths["markdown"].read_text()
    failed = text[text.index("## Failed cells"):text.index("## Detail per ε")]
    assert f"| {FAILED_CELL['cell']} | dp-gan | 0.5 | 0 | {FAILED_CELL['error']} |" in failed
    data = json.loads(paths["json"].read_text())
    assert [c["cell"] for c in data["failed_cells"]] == [FAILED_CELL["cell"]]


def test_json_holds_the_same_data(written):
    _, paths = written
    data = json.loads(paths["json"].read_text())
    assert data["notice"] == NOTICE and data["composition"] == COMPOSITION and data["margin"] == 0.05
    head = {h["generator"]: h for h in data["verdict"]["headline"]}
    assert head["dp-vae"]["no_fail_epsilon"] == 2.0 and head["dp-vae"]["all_pass_epsilon"] is None
    price = {(p["generator"], p["attribute"], p["group"]): p for p in data["price_of_privacy"]}
    assert price[("dp-vae", "sex", "F")]["epsilon_needed"] == 4.0
    assert price[("dp-vae", "race", "black")]["reached"] == "never"
    assert set(data["series"]) == set(frontier.SERIES) and data["sweep"]["inputs"]["data"]["name"] == "toy.csv"


def test_html_is_self_contained_with_the_banner(written):
    _, paths = written
    page = paths["html"].read_text()
    assert BANNER in page and 'src="plots/' not in page and page.count("data:image/png;base64,") == 8


def test_pngs_carry_the_watermark(written):
    from PIL import Image

    _, paths = written
    for key, path in paths.items():
        if key.startswith("plot:"):
            assert Image.open(path).text.get("Title") == WATERMARK, key


@pytest.fixture
def no_plots(monkeypatch):
    """Skip drawing (seconds per report) where a test reads only the text."""
    monkeypatch.setattr(frontier_plots, "write_frontier_plots", lambda *args, **kwargs: {})


def test_rewriting_replaces_the_report_and_thresholds_apply(tmp_path, no_plots):
    folder = sweep_folder(tmp_path, sweep_table(), cells_frame())
    assert "| dp-vae | ε = 2 |" in write_sweep_report(folder)["markdown"].read_text()
    (folder / "report" / "stale.txt").write_text("from an older report")
    strict = tmp_path / "strict.yaml"
    strict.write_text("utility_ratio_warn: 0.99\nutility_ratio_fail: 0.97\n")
    paths = write_sweep_report(folder, thresholds=strict, margin=0.15)
    text = paths["markdown"].read_text()
    assert "| dp-vae | ε = 4 |" in text and "utility_ratio_fail=0.97" in text
    assert "| dp-vae | sex | **F** | ε = 2 |" in text  # the wider margin
    assert not (folder / "report" / "stale.txt").exists()  # replaced whole, not file by file


def test_a_folder_without_results_is_one_clear_error(tmp_path):
    with pytest.raises(DpsynthError, match="holds no results.parquet"):
        write_sweep_report(tmp_path)


def test_cells_csv_and_sweep_json_are_optional(tmp_path, no_plots):
    folder = tmp_path / "bare"
    folder.mkdir()
    table = sweep_table()
    table[table.generator == "dp-vae"].to_parquet(folder / "results.parquet")
    paths = write_sweep_report(folder)
    text = paths["markdown"].read_text()
    assert "8 cells (8 done)" in text and "None: every cell that ran finished." in text


# ---------------------------------------------------------------------------- real audit tables
@pytest.fixture(scope="module")
def real_table(patients, make_context) -> pd.DataFrame:
    """One real tabular audit, stacked as cells of two generators × two ε (seed 0): the ε = 1
    cells' per-group TSTR AUROC lowered by 0.1, so every group needs ε = 4 at the 0.05 margin."""
    ctx = make_context()
    report = audit(train=ctx.train, holdout=ctx.holdout, synthetic=ctx.synthetic, schema=ctx.schema,
                   config=AuditConfig(n_bootstrap=10, intersections=False), progress=False)
    frames = []
    for generator in ("dp-vae", "dp-gan"):
        for epsilon in (1.0, 4.0):
            frame = report.table[RESULT_COLUMNS].copy()
            if epsilon == 1.0:
                lower = (frame.validator == "fairness") & (frame.metric == "auroc") & (frame.source == "TSTR") \
                        & (frame.group != "")
                frame.loc[lower, ["value", "ci_low", "ci_high"]] -= 0.1
            frame.insert(0, "private", True)
            frame.insert(0, "seed", 0)
            frame.insert(0, "epsilon", epsilon)
            frame.insert(0, "generator", generator)
            frame.insert(0, "cell", cell_id(generator, epsilon, 0))
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_a_sweep_of_real_audit_tables(real_table, tmp_path):
    fairness = real_table[(real_table.validator == "fairness") & (real_table.metric == "auroc")
                          & (real_table.group != "")]
    price = frontier.price_of_privacy(real_table)
    assert set(zip(price.attribute, price.group)) == set(zip(fairness.attribute, fairness.group))
    assert set(price[price.small_group].group) == {"asian"}  # ~3 % of a 600-row holdout
    gaps = real_table[(real_table.cell == "dp-vae_eps4_seed0") & (real_table.validator == "fairness")
                      & (real_table.metric == "auroc") & (real_table.group != "")]
    gap = gaps.pivot_table(index=["attribute", "group", "model"], columns="source", values="value")
    worst = (gap.TRTR - gap.TSTR).groupby(level=[0, 1]).max()
    for r in price[price.generator == "dp-vae"].itertuples(index=False):
        expected = worst[(r.attribute, r.group)]
        if not math.isfinite(expected) or expected > 0.05:
            assert r.reached == "never", (r.attribute, r.group)
        elif expected + 0.1 > 0.05:
            assert r.epsilon_needed == 4.0, (r.attribute, r.group)
    folder = sweep_folder(tmp_path, real_table)
    paths = write_sweep_report(folder)
    for attribute in pd.unique(fairness.attribute):
        assert f"plot:subgroups_{attribute}" in paths and f"plot:representation_{attribute}" in paths
    assert {"plot:utility", "plot:equalized_odds", "plot:fidelity", "plot:membership"} <= set(paths)
    text = paths["markdown"].read_text()
    assert "## Verdict" in text and "| dp-vae |" in text and "asian" in text


def test_each_cell_is_judged_with_its_own_audit_metadata(tmp_path):
    from dpsynth.validators.sweep_report import cell_metadata

    audit_dir = tmp_path / "cells" / "dp-vae_eps4_seed0" / "audit"
    audit_dir.mkdir(parents=True)
    (audit_dir / "audit.json").write_text(json.dumps({"metadata": {"n_holdout": 20, "min_holdout_size": 60}}))
    plan = {"settings": {"audit": {"min_group_size": 30}}}
    meta = cell_metadata(tmp_path, ["dp-vae_eps4_seed0", "dp-vae_eps8_seed0"], plan)
    assert meta == {"dp-vae_eps4_seed0": {"n_holdout": 20, "min_holdout_size": 60},
                    "dp-vae_eps8_seed0": {"config": {"min_group_size": 30}}}
    verdict = frontier.sweep_verdict(sweep_table(), metadata=meta)
    assert verdict.checklist("dp-vae", 4.0).set_index("check").status["small_groups"] == "fail"
