"""Series plots: labelled axes, subject counts in each panel's title, small groups in red."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_hex

from dpsynth.validators import series_plots
from dpsynth.validators.plot_files import ALERT_COLOUR
from dpsynth.validators.series_plots import SeriesPlotData

RNG = np.random.default_rng(0)


def plot_data() -> SeriesPlotData:
    windows = {g: (RNG.normal(size=(2, 16, 2)), RNG.normal(size=(2, 16, 2))) for g in ("F", "M")}
    spectra = {g: (RNG.random((2, 9)), RNG.random((2, 9))) for g in ("F", "M")}
    return SeriesPlotData(channels=["pressure", "flow"], units=["mmHg", ""], sampling_rate=50.0,
                          frequencies=np.linspace(0, 25, 9), examples={"sex": windows}, spectra={"sex": spectra},
                          subjects={"sex": {"F": (40, 35), "M": (40, 3)}}, min_group_size=30)


@pytest.fixture
def drawn(monkeypatch):
    figures = []
    monkeypatch.setattr(series_plots, "save_figure", lambda fig, path: figures.append(fig) or path)
    return figures


@pytest.mark.parametrize("plot", [series_plots.example_traces, series_plots.mean_spectra])
def test_a_small_group_is_titled_in_red_with_its_counts(drawn, plot, tmp_path):
    plot(plot_data(), "sex", tmp_path / "p.png")
    top, bottom = drawn[0].axes[0], drawn[0].axes[2]  # rows F, M; first channel
    assert top.get_title().startswith("F (subjects 40 real / 35 syn)") and "small group" not in top.get_title()
    assert "M (subjects 40 real / 3 syn, small group (< 30))" in bottom.get_title()
    assert to_hex(bottom.title.get_color()) == ALERT_COLOUR and to_hex(top.title.get_color()) != ALERT_COLOUR


@pytest.mark.parametrize("plot, y_label, x_label", [
    (series_plots.example_traces, "pressure (mmHg)", "time in window (s)"),
    (series_plots.mean_spectra, "normalised power", "frequency (Hz)")])
def test_every_panel_has_a_y_label_and_the_bottom_row_an_x_label(drawn, plot, y_label, x_label, tmp_path):
    plot(plot_data(), "sex", tmp_path / "p.png")
    axes = drawn[0].axes
    assert all(ax.get_ylabel() for ax in axes) and axes[0].get_ylabel() == y_label
    assert [ax.get_xlabel() for ax in axes[2:]] == [x_label, x_label]


def test_a_lone_observed_sample_between_missing_ones_is_drawn_as_a_point(drawn, tmp_path):
    """Sparse visits (most of a longitudinal window missing) would vanish from a line plot."""
    data = plot_data()
    real = np.full((1, 16, 2), np.nan)
    real[0, [3, 7, 8], 0] = [5.0, 6.0, 7.0]  # sample 3 alone, 7-8 a segment
    data.examples["sex"]["F"] = (real, real.copy())
    series_plots.example_traces(data, "sex", tmp_path / "p.png")
    points = np.concatenate([c.get_offsets() for c in drawn[0].axes[0].collections])
    assert {tuple(p) for p in points} == {(3 / 50.0, 5.0)}
    assert series_plots.isolated(np.array([1.0, np.nan, 2.0, 3.0, np.nan])).tolist() == [True, False, False,
                                                                                       False, False]
