"""Frontier plots: one PNG per family, ε on a log axis, labelled, small groups marked, watermarked."""

from __future__ import annotations

from pathlib import Path

import matplotlib.colors as mcolors
import pandas as pd
import pytest
from PIL import Image

from dpsynth.validators import frontier, frontier_plots
from dpsynth.validators.notice import WATERMARK
from dpsynth.validators.plot_files import ALERT_COLOUR
from dpsynth.validators.verdict import load_thresholds
from tests.unit.validators.sweep_tables import sweep_table

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def series() -> dict[str, pd.DataFrame]:
    return frontier.frontier_series(sweep_table())


@pytest.fixture(scope="module")
def drawn(series, tmp_path_factory) -> tuple[dict[str, Path], dict[str, object]]:
    """The plots written, and each saved figure by file stem (captured at save time)."""
    figures: dict[str, object] = {}
    real_save = frontier_plots.save_figure

    def capture(fig, path):
        out = real_save(fig, path)
        figures[Path(path).stem] = fig
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(frontier_plots, "save_figure", capture)
        paths = frontier_plots.write_frontier_plots(series, tmp_path_factory.mktemp("plots"),
                                                    thresholds=load_thresholds())
    return paths, figures


def test_every_family_is_drawn(drawn):
    paths, _ = drawn
    assert set(paths) == {"utility", "subgroups_sex", "subgroups_race", "equalized_odds", "representation_sex",
                          "representation_race", "fidelity", "membership"}
    for path in paths.values():
        assert path.read_bytes()[:8] == PNG_MAGIC


def test_every_png_carries_the_real_data_watermark(drawn):
    paths, figures = drawn
    for name, path in paths.items():
        assert Image.open(path).text.get("Title") == WATERMARK, name
        assert WATERMARK in [t.get_text() for t in figures[path.stem].texts], name


def test_epsilon_is_a_labelled_log_axis(drawn):
    _, figures = drawn
    for name, fig in figures.items():
        for ax in fig.axes:
            assert ax.get_xscale() == "log", name
            assert "ε" in ax.get_xlabel() and ax.get_ylabel() and ax.get_title(), name
        assert fig.get_suptitle(), name


def test_one_line_per_generator_and_the_reference_as_a_level(drawn):
    _, figures = drawn
    labels = figures["utility"].axes[0].get_legend_handles_labels()[1]
    assert {"dp-vae TSTR", "dp-gan TSTR"} <= set(labels)
    assert "sdv-tvae TSTR (ε = ∞, NOT PRIVATE)" in labels
    assert any(label.startswith("TRTR (real)") for label in labels)


def ringed(fig) -> int:
    """Points ringed in the alert colour (the small-group mark)."""
    alert = mcolors.to_rgba(ALERT_COLOUR)
    return sum(len(c.get_offsets()) for ax in fig.axes for c in ax.collections
               if len(c.get_edgecolors()) and tuple(c.get_edgecolors()[0]) == pytest.approx(alert))


def test_small_groups_are_marked(drawn):
    _, figures = drawn
    assert ringed(figures["subgroups_race"]) > 0 and ringed(figures["representation_race"]) > 0
    assert ringed(figures["subgroups_sex"]) == 0  # no small group by sex
    assert frontier_plots.SMALL_LABEL in [t.get_text() for t in figures["subgroups_race"].axes[-1].get_legend().texts]


def test_intervals_are_drawn_as_error_bars(drawn):
    _, figures = drawn
    ax = figures["equalized_odds"].axes[0]
    assert ax.containers and any(len(c.lines[2]) for c in ax.containers)  # errorbar containers with bars
    assert any("verdict fail level" in label for label in ax.get_legend_handles_labels()[1])


def test_a_family_without_rows_draws_nothing(series, tmp_path):
    assert frontier_plots.utility(series["utility"].iloc[:0], tmp_path / "u.png") is None
    only_fidelity = {name: frame if name == "fidelity" else frame.iloc[:0] for name, frame in series.items()}
    paths = frontier_plots.write_frontier_plots(only_fidelity, tmp_path)
    assert list(paths) == ["fidelity"] and sorted(p.name for p in tmp_path.iterdir()) == ["fidelity.png"]
