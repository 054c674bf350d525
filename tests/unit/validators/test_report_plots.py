"""The audit table's plots: labelled axes, bootstrap intervals, small groups hatched."""

from __future__ import annotations

import pandas as pd
import pytest
from matplotlib.container import BarContainer

from dpsynth.validators import report_plots
from dpsynth.validators.context import result_frame


def fairness_rows() -> pd.DataFrame:
    rows = []
    for source in ("TSTR", "TRTR"):
        for group, n in (("F", 200), ("M", 180), ("X", 8)):
            for metric in ("auroc", "tpr", "fpr"):
                rows.append(dict(validator="fairness", model="logreg", source=source, metric=metric, attribute="sex",
                                 group=group, feature="", value=0.7, ci_low=0.6, ci_high=0.8, n=n,
                                 flag="small_group;single_class" if n < 30 else ""))
    return result_frame(rows)


def bars(ax) -> list:
    return [bar for c in ax.containers if isinstance(c, BarContainer) for bar in c.patches]


def has_error_bars(ax) -> bool:
    return any(isinstance(c, BarContainer) and c.errorbar is not None for c in ax.containers)


@pytest.fixture
def drawn(monkeypatch):
    """The figures the plot functions hand to save_figure, instead of files."""
    figures = []
    monkeypatch.setattr(report_plots, "save_figure", lambda fig, path: figures.append(fig) or path)
    return figures


def test_fairness_panels_have_labelled_axes_and_intervals(drawn, tmp_path):
    report_plots.fairness_groups(fairness_rows(), "sex", tmp_path / "f.png")
    axes = drawn[0].axes
    assert len(axes) == 3
    for ax in axes:
        assert ax.get_xlabel() == "sex" and ax.get_ylabel()
        assert has_error_bars(ax)  # the bootstrap intervals
    assert [ax.get_ylabel() for ax in axes] == ["AUROC", "TPR (sensitivity)", "FPR (false-positive rate)"]


def test_a_small_group_is_hatched_and_explained(drawn, tmp_path):
    report_plots.fairness_groups(fairness_rows(), "sex", tmp_path / "f.png")
    ax = drawn[0].axes[0]
    hatched = {bar.get_x() for bar in bars(ax) if bar.get_hatch()}
    plain = {bar.get_x() for bar in bars(ax) if not bar.get_hatch()}
    assert len(hatched) == 2 and len(plain) == 4  # group X's TSTR and TRTR bars only
    assert min(hatched) > max(plain)  # X is the third group
    assert report_plots.SMALL_GROUP_LABEL in [t.get_text() for t in ax.get_legend().get_texts()]


def test_without_small_groups_nothing_is_hatched(drawn, tmp_path):
    table = fairness_rows()
    table = table[table.group != "X"]
    report_plots.fairness_groups(table, "sex", tmp_path / "f.png")
    ax = drawn[0].axes[0]
    assert bars(ax) and not any(bar.get_hatch() for bar in bars(ax))
    assert report_plots.SMALL_GROUP_LABEL not in [t.get_text() for t in ax.get_legend().get_texts()]


def test_representation_and_fidelity_axes_are_labelled(drawn, tmp_path):
    rows = [dict(validator="representation", model="", source="", metric=m, attribute="sex", group=g,
                 feature="", value=v, n=10, flag="small_group" if g == "X" else "")
            for g, v in (("F", 0.5), ("X", 0.02)) for m in ("share_real", "share_synthetic")]
    rows += [dict(validator="fidelity", model="", source="", metric="tvd", attribute="overall", group="",
                  feature="sex", value=0.1, ci_low=0.05, ci_high=0.15, n=100, flag="")]
    table = result_frame(rows)
    report_plots.representation(table, "sex", tmp_path / "r.png")
    report_plots.fidelity_columns(table, tmp_path / "c.png")
    representation, fidelity = drawn[0].axes[0], drawn[1].axes[0]
    assert (representation.get_xlabel(), representation.get_ylabel()) == ("sex", "share of rows")
    assert [bool(bar.get_hatch()) for bar in bars(representation)] == [False, True, False, True]
    assert fidelity.get_xlabel() and fidelity.get_ylabel()
    assert has_error_bars(fidelity)  # the interval the row carries


def test_small_groups_reads_joined_flags():
    frame = pd.DataFrame({"flag": ["", "small_group;single_class", "not_small_group"]}, index=["a", "b", "c"])
    assert report_plots.small_groups({"TSTR": frame}) == {"b"}
