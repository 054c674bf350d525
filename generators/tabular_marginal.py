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

from dpsynth.errors import ParameterError
from dpsynth.families.marginal import MarginalFamily
from dpsynth.registry import register
from dpsynth.tabular.codec import TabularCodec
from dpsynth.tabular.generator import TabularGenerator

UNKNOWN_UNPAIRED = ("unpaired names {names} that are neither columns nor sensitive attributes of the schema; "
                    "its columns: {columns}; its sensitive attributes: {attributes}")
UNPAIRED_TARGET = ("unpaired cannot hold the target '{target}': every target pair has it; list the columns whose "
                   "own outcome rate should not be measured, e.g. unpaired=['sex', 'race']")


@register("dp-marginal", family="marginal", modality="tabular",
          description="Noisy one-way and outcome-pair marginals (zCDP, OpenDP), no network: for small cohorts")
class DPTabularMarginal(MarginalFamily, TabularGenerator):
    """Tabular generator from noisy marginals (no DP-SGD).

    ``one_way_share``, ``selection_share``, ``cell_signal``, ``pair_groups`` and ``unpaired`` (column names) are
    the family's parameters;
    ``n_bins`` sets the numeric bins; the condition mix comes from the measurements (a
    group's outcome rate from its column's target pair, where one was measured;
    ``condition_share`` stays 0). The DP-SGD settings (``epochs``, ``batch_size``, ``lr``, ...) do not apply to this family.
    """

    def _measured_blocks(self, codec: TabularCodec) -> tuple[list[slice], int]:
        return codec.measured_slices()

    def _pair_merges(self, codec: TabularCodec) -> list[str]:
        return codec.pair_merges()

    def _unpaired_columns(self) -> set[str]:
        """The columns ``unpaired`` names: a column, or a sensitive attribute by its name (its column)."""
        attributes = {a.name: a.column for a in self.schema.sensitive}
        return {attributes.get(name, name) for name in self.unpaired}

    def _check_unpaired(self) -> None:
        attributes = [a.name for a in self.schema.sensitive]
        unknown = [name for name in self.unpaired if name not in self.schema.names and name not in attributes]
        if unknown:
            raise ParameterError(UNKNOWN_UNPAIRED.format(names=unknown, columns=", ".join(self.schema.names),
                                                         attributes=", ".join(attributes) or "none"))
        if self.schema.target in self._unpaired_columns():
            raise ParameterError(UNPAIRED_TARGET.format(target=self.schema.target))

    def _unpaired_blocks(self, codec: TabularCodec) -> set[int]:
        columns = self._unpaired_columns()
        return {i for i, b in enumerate(codec.counted_blocks()) if b.column in columns}

    def _complete_blocks(self, codec: TabularCodec) -> set[int]:
        return codec.complete_blocks()

    def _condition_choices(self, codec: TabularCodec, cells: pd.DataFrame) -> dict[int, np.ndarray]:
        return codec.condition_choices(cells)
