"""`AuditReport`: the audit's tidy result table plus metadata, and the files it writes.

The report holds real-data results, so it is **not differentially private** (privacy
contract, rule 7): every file it writes says so (`notice`), and it belongs next to the
audit, never in the release bundle with the synthetic data.

`AuditReport.write(out_dir)` writes

- ``audit.json``: ``{"notice", "metadata", "columns", "records"}``, one record per table row
  (NaN as ``null``); `AuditReport.read` loads it back;
- ``audit.csv``: the notice as a first line ``# <NOTICE>``, then the table. Read it with
  `AuditReport.read_csv`, or ``pd.read_csv(path, comment=None, skiprows=1)`` (skip the notice
  line only: a ``#`` inside a group or column name stays data);
- ``report.md``: one page a person can read (see `report_markdown`), the notice its first line;
- ``report.html``: the same Markdown as one self-contained page (`report_html`: plots inlined,
  the not-for-release banner on screen and on every printed page);
- ``plots/*.png``: per-group fairness bars, equalized odds, representation, fidelity, and
  whatever the report's ``extra_plots`` hook draws (the series audit's example traces and
  spectra), each with the not-for-release footer (`plot_files.save_figure`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from dpsynth.errors import DpsynthError
from dpsynth.privacy.card import INFINITY, PrivacyCard, as_card
from dpsynth.validators import report_plots
from dpsynth.validators.context import RESULT_COLUMNS
from dpsynth.validators.notice import NOTICE
from dpsynth.validators.report_html import markdown_page

BAD_TABLE = "an audit table needs the columns {expected}; missing: {missing}"
NOT_A_REPORT = "'{path}' is not an audit.json written by AuditReport.write (no 'records' key)"
NOT_AN_AUDIT_CSV = ("'{path}' is not an audit.csv written by AuditReport.write (its first line is not "
                    "'# <notice>'); read a plain table with pandas.read_csv")
CSV_NOTICE_LINE = f"# {NOTICE}"
TEXT_COLUMNS = [c for c in RESULT_COLUMNS if c not in ("value", "ci_low", "ci_high", "n")]
NUMBER_COLUMNS = ["value", "ci_low", "ci_high", "n"]


@dataclass
class AuditReport:
    """Tidy audit results (`table`, columns RESULT_COLUMNS) and their `metadata`.

    ``metadata`` is free-form JSON-able information; `audit` fills ``train_name``,
    ``holdout_name``, ``synthetic_name``, ``generator``, ``epsilon``/``delta`` (from a privacy
    card when given), ``n_train``/``n_holdout``/``n_synthetic``, ``schema_fingerprint``,
    ``config`` and ``dpsynth_version``.

    ``extra_plots`` (optional) is called by `write_plots` with the plot folder and returns
    ``{name: path}`` of the further PNGs it wrote; the series audit uses it for plots drawn
    from the signals. It is not serialised: a report read back from JSON has none.
    """

    table: pd.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)
    extra_plots: Callable[[Path], dict[str, Path]] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        missing = [c for c in RESULT_COLUMNS if c not in self.table.columns]
        if missing:
            raise ValueError(BAD_TABLE.format(expected=RESULT_COLUMNS, missing=missing))
        table = self.table[RESULT_COLUMNS].reset_index(drop=True).copy()
        for col in TEXT_COLUMNS:
            table[col] = table[col].fillna("").astype(str)
        for col in NUMBER_COLUMNS:
            table[col] = pd.to_numeric(table[col], errors="coerce").astype(float)
        self.table = table

    # ------------------------------------------------------------------ queries
    @property
    def epsilon(self) -> float | None:
        """ε of the privacy card the audit was given, if any."""
        return self.metadata.get("epsilon")

    def select(self, **equals: str) -> pd.DataFrame:
        """Rows whose columns equal the given values, e.g. ``select(validator="fairness")``."""
        mask = np.ones(len(self.table), bool)
        for col, value in equals.items():
            mask &= (self.table[col] == value).to_numpy()
        return self.table[mask]

    def value(self, **equals: str) -> float:
        """The single value matching ``equals`` (NaN when no row matches)."""
        rows = self.select(**equals)
        return float(rows["value"].iloc[0]) if len(rows) else math.nan

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        records = [
            {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in rec.items()}
            for rec in self.table.to_dict(orient="records")
        ]
        return {"notice": NOTICE, "metadata": _clean(self.metadata), "columns": RESULT_COLUMNS,
                "records": records}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditReport:
        table = pd.DataFrame(data["records"], columns=data.get("columns", RESULT_COLUMNS))
        return cls(table=table, metadata=dict(data.get("metadata") or {}))

    @classmethod
    def read(cls, path: str | Path) -> AuditReport:
        """Load an ``audit.json`` written by `write`."""
        data = json.loads(Path(path).read_text())
        if not isinstance(data, dict) or "records" not in data:
            raise ValueError(NOT_A_REPORT.format(path=path))
        return cls.from_dict(data)

    @staticmethod
    def read_csv(path: str | Path) -> pd.DataFrame:
        """The table of an ``audit.csv`` written by `write` (its notice line skipped), with the
        text columns as text ("" for none) and the number columns as floats."""
        with open(path, encoding="utf-8") as handle:
            first = handle.readline().rstrip("\r\n")
        if first != CSV_NOTICE_LINE:
            raise DpsynthError(NOT_AN_AUDIT_CSV.format(path=path))
        table = pd.read_csv(path, comment=None, skiprows=1, dtype=dict.fromkeys(TEXT_COLUMNS, str),
                            keep_default_na=False, na_values={c: [""] for c in NUMBER_COLUMNS})
        return table.astype(dict.fromkeys(NUMBER_COLUMNS, float))

    def to_markdown(self, *, plots: dict[str, str] | None = None) -> str:
        """The one-page Markdown report; ``plots`` maps plot keys to relative links."""
        from dpsynth.validators.report_markdown import render

        return render(self, plots=plots or {})

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write audit.json, audit.csv, report.md, report.html and plots/*.png under ``out_dir``.

        Returns ``{"json", "csv", "markdown", "html", "plot:<name>", ...}`` → path. Keep
        ``out_dir`` apart from the release bundle: these files are not differentially private.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths: dict[str, Path] = {}
        paths["json"] = out / "audit.json"
        paths["json"].write_text(json.dumps(self.to_dict(), indent=1, default=_json_default) + "\n")
        paths["csv"] = out / "audit.csv"
        with open(paths["csv"], "w", encoding="utf-8", newline="") as handle:
            handle.write(CSV_NOTICE_LINE + "\n")
            self.table.to_csv(handle, index=False)
        plots = self.write_plots(out / "plots")
        paths.update({f"plot:{name}": p for name, p in plots.items()})
        paths["markdown"] = out / "report.md"
        links = {name: p.relative_to(out).as_posix() for name, p in plots.items()}
        markdown = self.to_markdown(plots=links)
        paths["markdown"].write_text(markdown)
        paths["html"] = out / "report.html"
        title = f"dpsynth audit: {self.metadata.get('synthetic_name') or 'synthetic data'}"
        paths["html"].write_text(markdown_page(markdown, base_dir=out, title=title), encoding="utf-8")
        return paths

    def write_plots(self, plot_dir: str | Path) -> dict[str, Path]:
        """Every plot the table supports, as ``{name: path}`` (names: ``fairness_<attr>``,
        ``representation_<attr>``, ``equalized_odds``, ``fidelity_columns``)."""
        plot_dir = Path(plot_dir)
        t = self.table
        made: dict[str, Path | None] = {}
        for attribute in attributes(t):
            key = report_plots.slug(attribute)
            made[f"fairness_{key}"] = report_plots.fairness_groups(t, attribute, plot_dir / f"fairness_{key}.png")
            made[f"representation_{key}"] = report_plots.representation(
                t, attribute, plot_dir / f"representation_{key}.png")
        made["equalized_odds"] = report_plots.equalized_odds(t, plot_dir / "equalized_odds.png")
        made["fidelity_columns"] = report_plots.fidelity_columns(t, plot_dir / "fidelity_columns.png")
        if self.extra_plots is not None:
            made.update(self.extra_plots(plot_dir))
        return {k: v for k, v in made.items() if v is not None}

    def __repr__(self) -> str:
        validators = ", ".join(pd.unique(self.table.validator))
        return f"AuditReport({len(self.table)} rows: {validators}; epsilon={self.epsilon})"


def attributes(table: pd.DataFrame) -> list[str]:
    """Attributes with subgroup rows, in order of first appearance."""
    return [a for a in pd.unique(table.attribute) if a and a != "overall"]


def privacy_summary(card: PrivacyCard | dict[str, Any] | str | Path | None) -> dict[str, Any]:
    """What the report states of a privacy card (a `PrivacyCard`, its JSON object, or the path
    of its file): ``epsilon`` ("inf" on a NOT PRIVATE card), ``delta``, ``accountant``,
    ``private`` and ``card_generator``. A dict or file that is not a card is a `CardError`.
    """
    if card is None:
        return {}
    card = as_card(card, source="the audit's privacy card")
    out: dict[str, Any] = {"epsilon": card.epsilon if math.isfinite(card.epsilon) else INFINITY,
                           "private": card.private, "accountant": ", ".join(card.accountant or ()) or None}
    if card.delta is not None:
        out["delta"] = card.delta
    if card.generator:
        out["card_generator"] = card.generator
    return out


def _clean(obj: Any) -> Any:
    """A JSON-safe copy: non-finite floats become None, numpy scalars Python scalars."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, (Path,)):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)
