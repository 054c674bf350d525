"""Saving the audit's figures: the one helper every plot writer under validators/ calls.

The plots are drawn from REAL patients' data and are not differentially private, and a PNG
travels alone (pasted in a slide, attached to an e-mail), far from the report's notice. So
`save_figure` stamps each figure with a visible footer (`notice.WATERMARK`) and writes the full
notice into the PNG's metadata before writing the file. Figures go through the Agg canvas:
headless, the global pyplot state untouched.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dpsynth.validators.notice import NOTICE, WATERMARK

DPI = 110
ALERT_COLOUR = "#b00020"  # the footer and the small-group marks


def watermark(fig: Figure) -> None:
    """Put `WATERMARK` at the bottom of ``fig`` (below the axes; saved with a tight bounding box)."""
    fig.text(0.5, 0.0, WATERMARK, ha="center", va="top", fontsize=7, color=ALERT_COLOUR,
             fontweight="bold")


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Lay out ``fig``, stamp it with `watermark`, write it as a PNG at ``path`` (folders made)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.tight_layout()
    watermark(fig)
    fig.savefig(path, dpi=DPI, bbox_inches="tight", pad_inches=0.08,
                metadata={"Title": WATERMARK, "Description": NOTICE})
    return path
