"""Declared schema rules: parsing, the checks against the columns, each kind's meaning."""

import copy

import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import SchemaError
from dpsynth.tabular.rules import MappingRule, RangeRule, SumRule, derivation_order, enforce
from dpsynth.tabular.schema import TabularSchema
from tests.conftest import make_ruled_toy_frame, make_ruled_toy_schema, make_toy_schema


def spec():
    return copy.deepcopy(make_ruled_toy_schema().to_dict())


def with_rules(*rules):
    out = spec()
    out["rules"] = list(rules)
    return out


MAPPING = {"kind": "mapping", "source": "race", "target": "race_group",
           "map": {"white": "white", "black": "black", "asian": "other", "other": "other"}}


def edited(mapping=None, **changes):
    rule = dict(MAPPING if mapping is None else mapping)
    rule.update(changes)
    return rule


BAD = {
    "unknown column": (with_rules(edited(source="ethnicity")),
                       "rule 'ethnicity -> race_group'", "source 'ethnicity' is not a column of the schema"),
    "map misses a category": (with_rules(edited(map={"white": "white", "black": "black", "asian": "other"})),
                              "rule 'race -> race_group'", "map has no entry for ['other']"),
    "map names a non-category": (with_rules(edited(map={**MAPPING["map"], "martian": "other"})),
                                 "rule 'race -> race_group'", "map lists ['martian']"),
    "map value outside the target": (with_rules(edited(map={**MAPPING["map"], "asian": "asian"})),
                                     "rule 'race -> race_group'", "map sends {'asian': 'asian'}"),
    "mapping from a numeric column": (with_rules(edited(source="age")),
                                      "rule 'age -> race_group'", "source 'age' is numeric"),
    "mapping onto itself": (with_rules(edited(target="race", map={c: c for c in MAPPING["map"]})),
                            "rule 'race -> race'", "same column 'race'"),
    "mapping derives the target": (with_rules(edited(source="race_group", target="outcome", map={
        "white": "no", "black": "no", "other": "yes"})), "rule 'race_group -> outcome'", "prediction target"),
    "mapping derives a sensitive column": (with_rules(edited(source="race_group", target="sex", map={
        "white": "male", "black": "male", "other": "female"})), "'race_group -> sex'", "sensitive attribute column"),
    "range outside the public bounds": (with_rules({"kind": "range", "column": "lab", "by": "sex",
                                                    "ranges": {"male": [0, 60]}}),
                                        "rule 'lab range by sex'", "leaves the public bounds [0, 50]"),
    "range reversed": (with_rules({"kind": "range", "column": "lab", "by": "sex", "ranges": {"male": [5, 1]}}),
                       "rule 'lab range by sex'", "write the lower bound first"),
    "range for a non-category": (with_rules({"kind": "range", "column": "lab", "by": "sex",
                                             "ranges": {"other": [0, 1]}}),
                                 "rule 'lab range by sex'", "ranges list ['other']"),
    "range by a numeric column": (with_rules({"kind": "range", "column": "lab", "by": "age",
                                              "ranges": {"1": [0, 1]}}),
                                  "rule 'lab range by age'", "by 'age' is numeric"),
    "range without a whole number": (with_rules({"kind": "range", "column": "heart_rate", "by": "sex",
                                                 "ranges": {"male": [60.2, 60.8]}}),
                                     "rule 'heart_rate range by sex'", "holds no value"),
    "sum over a categorical": (with_rules({"kind": "sum", "target": "score", "terms": ["age", "sex"]}),
                               "rule 'score = age + sex'", "terms 'sex' is categorical"),
    "sum over an unknown column": (with_rules({"kind": "sum", "target": "score", "terms": ["age", "pulse"]}),
                                   "rule 'score = age + pulse'", "terms 'pulse' is not a column of the schema"),
    "sum of one term": (with_rules({"kind": "sum", "target": "score", "terms": ["age", "age"]}),
                        "rule 'score = age + age'", "at least two different columns"),
    "sum with nullable terms": (with_rules({"kind": "sum", "target": "score", "terms": ["age", "lab"]}),
                                "rule 'score = age + lab'", "declare target 'score' nullable: true"),
    "two rules derive a column": (with_rules(MAPPING, edited(name="again")),
                                  "rules 'race -> race_group' and 'again'", "both derive column 'race_group'"),
    "range on a derived column": (with_rules({"kind": "sum", "target": "score", "terms": ["age", "heart_rate"]},
                                             {"kind": "range", "column": "score", "by": "sex",
                                              "ranges": {"male": [0, 300]}}),
                                  "rule 'score range by sex'", "which rule 'score = age + heart_rate' derives"),
    "a key of another kind": (with_rules(edited(ranges={"a": [0, 1]})), "rule #1 (mapping)",
                              "key 'ranges' belongs to range rules"),
    "a missing key": (with_rules({"kind": "mapping", "source": "race", "target": "race_group"}), "rule #1",
                      "missing the key 'map'"),
    "an unknown kind": (with_rules({"kind": "lookup", "source": "race"}), "rule #1",
                        "kind must be 'mapping', 'range' or 'sum', not 'lookup'"),
    "a misspelt key": (with_rules({"kind": "mapping", "sorce": "race", "target": "race_group", "map": {}}),
                       "rule #1", "key 'sorce' is not known; did you mean 'source'?"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_each_mistake_names_the_rule_and_the_fix(case):
    bad, rule, words = BAD[case]
    with pytest.raises(SchemaError) as caught:
        TabularSchema.from_dict(bad)
    message = str(caught.value)
    assert rule in message and words in message, message
    assert "\n" not in message


def test_sum_bounds_must_cover_every_sum_of_the_terms():
    bad = spec()
    next(c for c in bad["columns"] if c["name"] == "score")["upper"] = 300
    with pytest.raises(SchemaError, match=r"terms can add up to \[18, 410\].*widen the target's bounds"):
        TabularSchema.from_dict(bad)


def test_a_cycle_of_derived_columns_is_refused():
    cols = spec()["columns"]
    cols.append({"name": "a", "kind": "categorical", "categories": ["x", "y"]})
    cols.append({"name": "b", "kind": "categorical", "categories": ["x", "y"]})
    cycle = {**spec(), "columns": cols,
             "rules": [{"kind": "mapping", "source": "a", "target": "b", "map": {"x": "y", "y": "x"}},
                       {"kind": "mapping", "source": "b", "target": "a", "map": {"x": "x", "y": "y"}}]}
    with pytest.raises(SchemaError, match=r"derive their columns from each other .*break the cycle"):
        TabularSchema.from_dict(cycle)


def test_rules_need_public_domains():
    bad = spec()
    next(c for c in bad["columns"] if c["name"] == "race_group")["public"] = False
    with pytest.raises(SchemaError, match="column 'race_group' has no public categories"):
        TabularSchema.from_dict(bad)


def test_round_trip_keeps_the_rules_and_their_fingerprint(tmp_path):
    schema = make_ruled_toy_schema()
    back = TabularSchema.load(schema.save(tmp_path / "s.yaml"))
    assert [type(r) for r in back.rules] == [MappingRule, RangeRule, SumRule]
    assert back.to_dict() == schema.to_dict() and back.fingerprint() == schema.fingerprint()


def test_a_schema_without_rules_writes_no_rules_key():
    """Existing fingerprints must not change: ``rules`` is written only when non-empty."""
    schema = make_toy_schema()
    assert "rules" not in schema.to_dict()
    assert TabularSchema.from_dict({**schema.to_dict(), "rules": []}).fingerprint() == schema.fingerprint()
    assert TabularSchema.from_dict({**schema.to_dict(), "rules": None}).fingerprint() == schema.fingerprint()


def test_numbers_as_categories_are_canonical():
    schema = TabularSchema.from_dict({
        "target": "y", "positive": "1",
        "columns": [{"name": "arm", "kind": "categorical", "categories": [0, 1, 2]},
                    {"name": "treated", "kind": "categorical", "categories": ["0", "1"]},
                    {"name": "y", "kind": "categorical", "categories": [0, 1]}],
        "rules": [{"kind": "mapping", "source": "arm", "target": "treated", "map": {0: 0, 1: 1, 2: 1.0}}]})
    assert schema.rules[0].map == {"0": "0", "1": "1", "2": "1"}


def test_conform_refuses_data_that_break_a_rule_with_the_count():
    schema = make_ruled_toy_schema()
    frame = make_ruled_toy_frame()
    schema.conform(frame)  # the toy keeps every rule
    broken = frame.copy()
    broken.loc[broken["race"] == "asian", "race_group"] = "white"
    n = int((frame["race"] == "asian").sum())
    with pytest.raises(SchemaError, match=rf"data break rule 'race -> race_group' in {n} row\(s\) "
                                          r"\(e.g. race='asian', race_group='white'\); .*fix those rows"):
        schema.conform(broken)
    out, _ = schema.conform(broken, check_rules=False)  # the audit measures instead
    assert len(out) == len(frame)


def test_mapping_holds_and_derives():
    rule = MappingRule(source="a", target="b", map={"x": "1", "y": "2"})
    frame = pd.DataFrame({"a": ["x", "y", "x"], "b": ["1", "2", "2"]})
    assert rule.holds(frame).tolist() == [True, True, False]
    assert rule.derive(frame).tolist() == ["1", "2", "1"]


def test_range_holds_per_category_and_ignores_missing_values():
    rule = RangeRule(column="v", by="g", ranges={"lo": [0, 7]})
    frame = pd.DataFrame({"g": ["lo", "lo", "hi", "lo"], "v": [7.0, 8.0, 100.0, np.nan]})
    assert rule.holds(frame).tolist() == [True, False, True, True]


def test_sum_holds_within_float_noise_and_missing_follows_the_terms():
    rule = SumRule(target="t", terms=["a", "b"])
    frame = pd.DataFrame({"a": [0.1, 1.0, np.nan, 1.0], "b": [0.2, 1.0, 1.0, 1.0], "t": [0.3, 3.0, np.nan, np.nan]})
    assert rule.holds(frame).tolist() == [True, False, True, False]


def test_derivation_order_puts_inputs_first():
    first = MappingRule(source="a", target="b", map={})
    second = MappingRule(source="b", target="c", map={})
    assert derivation_order([second, first]) == [first, second]


def test_enforce_makes_any_table_keep_the_rules():
    """What the SDV references do after sampling: derive the targets, clip the ranges."""
    schema = make_ruled_toy_schema()
    frame = schema.conform(make_ruled_toy_frame())[0]
    rng = np.random.default_rng(0)
    scrambled = frame.assign(race_group=rng.permutation(frame["race_group"].to_numpy()),
                             score=rng.uniform(0, 500, len(frame)), lab=frame["lab"] * 10)
    assert not all(r.holds(scrambled).all() for r in schema.rules)
    fixed = enforce(schema.rules, scrambled, schema.columns)
    assert all(r.holds(fixed).all() for r in schema.rules)
    schema.conform(fixed)
    assert fixed["lab"].isna().equals(frame["lab"].isna())
