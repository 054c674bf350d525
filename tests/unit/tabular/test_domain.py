"""Learning a drafted schema's values with DP (`schema draft` + `--learn-domain-share`): the
released schema depends on the private data only through the DP outputs."""

import numpy as np
import pandas as pd
import pytest

from dpsynth.errors import SchemaError
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.tabular.domain import learn_public_values
from dpsynth.privacy.ledger import PrivacyLedger
from dpsynth.schema import NumericColumn
from dpsynth.tabular.schema import draft_schema
from tests.conftest import make_toy_frame, make_toy_schema

DP_OUTPUTS = {"lower", "upper", "categories"}  # what the mechanisms release; everything else must match


def draft_and_learn(frame):
    draft = draft_schema(frame, target="outcome", sensitive=["sex", "race"])
    ledger = PrivacyLedger(PrivacyBudget(20.0, 1e-5))
    learned = learn_public_values(frame, draft, epsilon=10.0, delta=1e-6, ledger=ledger)
    return draft, learned


def structure(schema):
    spec = schema.to_dict()
    spec["columns"] = [{k: v for k, v in c.items() if k not in DP_OUTPUTS} for c in spec["columns"]]
    return spec


def test_rule_2_one_added_patient_changes_nothing_but_the_dp_outputs():
    """Neighbouring data sets through the whole draft → learn path: a patient with a missing
    age, a non-integer heart rate, the only missing lab value and a third stage value must not
    show in the released schema (kinds, flags, sensitive groups), only in the DP outputs."""
    frame = make_toy_frame(n=1500)
    frame["lab"] = frame["lab"].fillna(1.0)  # no missing lab values ...
    frame["stage"] = (frame["age"] > 60).astype(int)  # two distinct values ...
    extra = pd.DataFrame([{"age": np.nan, "sex": "female", "race": "white", "heart_rate": 80.5,
                           "lab": np.nan, "outcome": "yes", "stage": 2}])  # ... until this patient
    neighbour = pd.concat([frame, extra], ignore_index=True)
    draft_a, learned_a = draft_and_learn(frame)
    draft_b, learned_b = draft_and_learn(neighbour)
    assert draft_a.column("age").nullable != draft_b.column("age").nullable  # the draft does see it ...
    assert draft_a.column("heart_rate").integer != draft_b.column("heart_rate").integer
    assert structure(learned_a) == structure(learned_b)  # ... the learned schema does not
    assert all(c.public for c in learned_a.columns) and learned_a.not_public() == []


def test_learning_replaces_drafted_flags_and_keeps_confirmed_ones():
    _, learned = draft_and_learn(make_toy_frame(n=1500))
    heart_rate = learned.column("heart_rate")
    assert (heart_rate.nullable, heart_rate.integer, heart_rate.out_of_bounds) == (True, False, "clip")
    schema = make_toy_schema()  # heart_rate confirmed integer and not nullable, bounds not yet set
    schema.columns[3] = NumericColumn("heart_rate", integer=True)
    ledger = PrivacyLedger(PrivacyBudget(20.0, 1e-5))
    confirmed = learn_public_values(make_toy_frame(n=1500), schema, epsilon=10.0, delta=1e-6, ledger=ledger)
    assert (confirmed.column("heart_rate").integer, confirmed.column("heart_rate").nullable) == (True, False)


def test_draft_kind_follows_the_storage_type_not_the_values():
    frame = make_toy_frame().assign(flag=lambda f: (f["age"] > 50).astype(int))  # two distinct values
    draft = draft_schema(frame, target="outcome", sensitive=["sex"])
    assert draft.column("flag").kind == "numeric"
    assert draft.column("flag").public is False


def test_bounds_that_cannot_be_learned_are_a_clear_error():
    schema = make_toy_schema()
    schema.columns[0].public = False
    ledger = PrivacyLedger(PrivacyBudget(1.0, 1e-5))
    with pytest.raises(SchemaError, match="column 'age': its DP bounds could not be learned"):
        learn_public_values(make_toy_frame(n=50), schema, epsilon=0.01, delta=1e-6, ledger=ledger)
