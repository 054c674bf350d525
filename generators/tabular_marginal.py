"""DP marginals for tabular EHR: noisy counts chosen for the outcome, for small cohorts.

The marginal family (`dpsynth.families.marginal`) measures each column's histogram and the
target × column histograms that matter most, under zCDP, instead of training a network with
DP-SGD; the codec draws every row from those counts. What is left here is which blocks of the
tabular encoding to count: a categorical column's categories, a numeric column's coarse bins
and missing flag (its fine bins stay uniform).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dpsynth.families.marginal import MarginalFamily
from dpsynth.registry import register
from dpsynth.tabular.codec import Block, TabularCodec
from dpsynth.tabular.generator import TabularGenerator


@register("dp-marginal", family="marginal", modality="tabular",
          description="Noisy one-way and outcome-pair marginals (zCDP, OpenDP), no network: for small cohorts")
class DPTabularMarginal(MarginalFamily, TabularGenerator):
    """Tabular generator from noisy marginals (no DP-SGD).

    ``one_way_share``, ``selection_share``, ``cell_signal`` and ``pair_groups`` are the family's parameters;
    ``n_bins`` sets the numeric bins; the condition mix comes from the measurements (a
    group's outcome rate from its column's target pair, where one was measured;
    ``condition_share`` stays 0). The DP-SGD settings (``epochs``, ``batch_size``, ``lr``, ...) do not apply to this family.
    """

    @staticmethod
    def _counted(codec: TabularCodec) -> list[Block]:
        """The blocks the family counts, in order: every block but the numeric columns' fine bins."""
        return [b for b in codec.blocks if b.role != "fine"]

    def _measured_blocks(self, codec: TabularCodec) -> tuple[list[slice], int]:
        blocks = self._counted(codec)
        target = next(i for i, b in enumerate(blocks) if b.column == codec.schema.target)
        return [slice(b.start, b.stop) for b in blocks], target

    def _pair_merges(self, codec: TabularCodec) -> list[str]:
        return ["ordered" if b.role == "bin" else "categories" for b in self._counted(codec)]

    def _condition_choices(self, codec: TabularCodec, cells: pd.DataFrame) -> dict[int, np.ndarray]:
        masks = codec.condition_masks(cells)
        return {i: masks[(b.column, b.role)].astype(float) for i, b in enumerate(self._counted(codec))
                if (b.column, b.role) in masks}
