"""Exception types and the user-facing messages they carry.

Messages are module constants so that tests can match them and so that every error
names the column or option at fault and the way out.
"""

from __future__ import annotations


class DpsynthError(Exception):
    """Base class of every error dpsynth raises on purpose."""


class SchemaError(DpsynthError, ValueError):
    """The schema file or the data does not fit the schema."""


class BudgetError(DpsynthError, ValueError):
    """A privacy budget is invalid, too small, or would be overspent."""


class NotFittedError(DpsynthError, RuntimeError):
    """A generator was used before `fit`."""


class DataReadError(DpsynthError, OSError):
    """A data or schema file could not be read."""


class ParameterError(DpsynthError, ValueError, TypeError):
    """A generator parameter is unknown, or its value is not allowed (`dpsynth.params`).
    A ValueError and a TypeError too, like Python's own errors for bad keyword arguments."""


MISSING_COLUMNS = (
    "data is missing column(s) {columns} that the schema declares; "
    "add them to the data or remove them from the schema"
)
EXTRA_COLUMNS = (
    "data has column(s) {columns} that the schema does not declare; "
    "drop them from the data or add them to the schema (`dpsynth schema draft` writes one)"
)
NOT_NUMERIC = (
    "column '{column}' is numeric in the schema but holds non-numeric values such as {examples!r}; "
    "fix the data or declare the column categorical"
)
NOT_INTEGER = (
    "column '{column}' is declared integer but holds non-integer values such as {examples!r}; "
    "set integer: false in the schema or fix the data"
)
UNEXPECTED_MISSING = (
    "column '{column}' has {count} missing value(s) but the schema says nullable: false; "
    "set nullable: true for that column (missing values are then modelled) or fill them"
)
OUT_OF_BOUNDS = (
    "column '{column}' has {count} value(s) outside its public bounds [{lower}, {upper}] "
    "(e.g. {examples!r}); widen the public bounds, or set out_of_bounds: clip for that "
    "column to clip them (clipped values are counted and reported)"
)
BOUNDS_REVERSED = "{where}: lower ({lower}) is above upper ({upper}); swap them"
BOUNDS_EQUAL = (
    "{where}: lower and upper are both {value}, so every value would be {value}; public bounds need "
    "lower < upper: widen them{alternative}"
)
BOUND_NOT_FINITE = "{where}: {bound} must be a finite number{alternative}, not {value!r}"
UNSEEN_CATEGORIES = (
    "column '{column}' has value(s) {examples!r} outside its public categories {domain!r}; "
    "add them to the schema's categories, or set unseen: missing (nullable columns) to "
    "treat them as missing (counted and reported)"
)
NOT_PUBLIC = (
    "the schema has values derived from the private data and not confirmed public: {fields} "
    "(a column with public: false has its bounds or categories, and its nullable and integer flags, "
    "drafted from the data). Two ways out: (1) confirm public values (edit the schema: replace them "
    "with public knowledge, e.g. clinical ranges, and set public: true), or (2) learn them with a DP "
    "mechanism by passing a budget share, e.g. `--learn-domain-share 0.1` "
    "(DP quantiles for bounds, a thresholded noisy histogram for categories, charged to the ledger; "
    "the learned columns become nullable and non-integer, set without reading the data)"
)
EMPTY_SUBGROUP = (
    "sensitive attribute '{attribute}' group {group!r} has no rows in the data; "
    "merge it into another group in the schema (groups:) or remove it"
)
UNKNOWN_CONDITION = (
    "condition {name}={value!r} is not a known value; '{name}' takes one of {choices!r}"
)
UNKNOWN_CONDITION_NAME = (
    "condition '{name}' is neither the target nor a sensitive attribute; use one of {choices!r}"
)
EPSILON_INVALID = "epsilon must be a finite number > 0 (got {epsilon!r})"
DELTA_INVALID = "delta must be in (0, 1) (got {delta!r}); the default is 1e-5, or the power of ten at or below 1/n^1.1 for larger n"
DELTA_TOO_LARGE = (
    "delta={delta:g} is not below 1/n for this data: a mechanism could then publish a whole patient's "
    "record with probability delta. Use delta <= {suggested:.2g} (or leave --delta out), or pass "
    "--allow-large-delta to accept it (the privacy card then says so)"
)
OVERSPEND = (
    "refusing '{mechanism}': it would spend epsilon={epsilon:.4g}, delta={delta:.3g} but only "
    "epsilon={epsilon_left:.4g}, delta={delta_left:.3g} of the budget are left; "
    "raise the budget or lower that mechanism's share"
)
BUDGET_TOO_SMALL = (
    "the budget epsilon={epsilon:g}, delta={delta:g} is too small to train: even one pass "
    "over the data would need a noise multiplier above {max_sigma:g}. Raise epsilon, lower "
    "epochs, or lower batch_size"
)
PRV_EPSILON_TOO_LARGE = (
    "epsilon={epsilon:g} is beyond what the PRV accountant handles (its grid grows with epsilon: at "
    "epsilon=1000 it needs minutes and about 7 GB); epsilon above {max_epsilon:g} is no meaningful privacy "
    "guarantee. Lower epsilon, or account with RDP: accountant='rdp' (CLI: --param accountant=rdp)"
)
NOT_FITTED = "this {name} is not fitted yet; call fit(data, budget=...) first"
