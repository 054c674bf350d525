"""The one-run privacy audit (`dpsynth.privacy_audit`): every registered DP generator, canaries,
scores, the noise-off check and clear errors."""

import json

import numpy as np
import pandas as pd
import pytest

from dpsynth import privacy_audit, registry
from dpsynth.errors import BudgetError, DpsynthError, NotFittedError, SchemaError
from dpsynth.privacy_audit import MIN_CANARIES, one_run_audit
from dpsynth.tabular.schema import TabularSchema
from tests.conftest import (
    dpsgd_noise_off,
    make_toy_frame,
    make_toy_image_schema,
    make_toy_images,
    make_toy_schema,
    make_toy_series,
    make_toy_series_schema,
    pinned_private_randomness,
)

TINY_SHARED = dict(epochs=1, batch_size=32, hidden=(16,), n_bins=8)
PRIVATE = [info.name for info in registry.available() if info.private]
DATA = {  # modality -> (public schema, a small data set with at least MIN_CANARIES privacy units)
    "tabular": lambda: (make_toy_schema(), make_toy_frame(n=200)),
    "series": lambda: (make_toy_series_schema(), make_toy_series(n=60)),
    "image": lambda: (make_toy_image_schema(), make_toy_images(n_patients=60)),
}


def toy_subjects():
    """The toy table with two rows per patient (the schema names the subject id)."""
    frame = make_toy_frame(n=200)
    frame.insert(0, "patient", [f"p{i // 2:03d}" for i in range(200)])
    return TabularSchema.from_dict(make_toy_schema().to_dict() | {"subject_id": "patient"}), frame
# Noise off shows only if the model can memorise a canary: a wide VAE, a large clip norm (which
# costs no ε: the noise scales with it), small batches and enough epochs. Same settings, noise on:
# the bound stays at the card.
STRONG = dict(epochs=30, batch_size=32, hidden=(256, 256), n_bins=8, lr=1e-2, max_grad_norm=100.0)


def audit(name, **overrides):
    schema, data = DATA[registry.get(name).modality]()
    arguments = dict(data=data, schema=schema, generator=name, epsilon=1.0, canaries=MIN_CANARIES,
                     params=TINY_SHARED, draws=2, progress=False) | overrides
    return one_run_audit(**arguments)


@pytest.mark.parametrize("name", PRIVATE)
def test_every_private_generator_is_audited_in_one_run(name):
    result = audit(name)
    assert result.generator == name and result.canaries == MIN_CANARIES
    assert 0 < result.canaries_included < MIN_CANARIES
    assert 0.0 <= result.epsilon_lower_bound <= result.card_epsilon <= 1.0 + 1e-9
    assert not result.contradicts_card
    assert [rule["guesses"] for rule in result.rules] == [2, 5, 10, 20] * 3
    assert result.guesses in [2, 5, 10, 20] and 0 <= result.correct <= result.guesses
    assert result.best_possible > 1.0 and "not a release" in result.note
    assert json.loads(json.dumps(result.to_dict()))["contradicts_card"] is False


@pytest.mark.slow
def test_with_the_noise_switched_off_the_bound_exceeds_the_claimed_epsilon():
    """A broken mechanism (no DP-SGD noise, card unchanged) is caught; with the noise on, the
    same strong-signal settings give a bound within the card."""
    frame, schema = make_toy_frame(n=400), make_toy_schema()
    with dpsgd_noise_off():
        broken = one_run_audit(data=frame, schema=schema, generator="dp-vae", epsilon=0.5, canaries=200,
                               params=STRONG, progress=False)
    assert broken.card_epsilon <= 0.5 + 1e-9
    assert broken.contradicts_card and broken.epsilon_lower_bound > 0.5
    sound = one_run_audit(data=frame, schema=schema, generator="dp-vae", epsilon=0.5, canaries=200,
                          params=STRONG, progress=False)
    assert not sound.contradicts_card and sound.epsilon_lower_bound <= sound.card_epsilon


@pytest.mark.parametrize("case", [*sorted(DATA), "tabular-subjects"])
def test_canaries_are_valid_records_each_its_own_privacy_unit(case):
    schema, data = toy_subjects() if case == "tabular-subjects" else DATA[case]()
    modality = case.split("-")[0]
    model = registry.create(next(i.name for i in registry.available(modality) if i.private), schema, **TINY_SHARED)
    canaries = model.canary_units(60, random_state=3)
    conformed, _ = schema.conform(canaries)  # inside the public schema, or this raises
    assert schema.count_units(conformed) == len(canaries) == 60
    again, other = model.canary_units(60, random_state=3), model.canary_units(60, random_state=4)
    table = lambda d: d if isinstance(d, pd.DataFrame) else d.static  # noqa: E731
    pd.testing.assert_frame_equal(table(again), table(canaries))
    assert not table(other).equals(table(canaries))
    keep = np.arange(60) % 3 == 0
    combined = model.with_units(data, canaries, keep=keep)
    assert schema.count_units(combined) == schema.count_units(data) + keep.sum()


@pytest.mark.parametrize("name", ["dp-vae", "dp-series-vae", "dp-image-vae"])
def test_canary_ids_that_clash_with_the_data_are_a_clear_error(name):
    schema, _ = toy_subjects() if name == "dp-vae" else DATA[registry.get(name).modality]()
    model = registry.create(name, schema, **TINY_SHARED)
    canaries = model.canary_units(MIN_CANARIES)
    with pytest.raises(SchemaError, match="already has privacy units named like the"):
        model.with_units(canaries, canaries, keep=np.ones(MIN_CANARIES, bool))


def test_membership_scores_need_a_fitted_model():
    model = registry.create("dp-vae", make_toy_schema(), **TINY_SHARED)
    with pytest.raises(NotFittedError):
        model.membership_scores(model.canary_units(MIN_CANARIES))


def test_the_inclusion_coins_are_secret_not_seeded():
    """Same seed, different OS entropy: different coins; same entropy: the same coins (docs/privacy.md, rule 9)."""
    included = {}
    for start in (0, 0, 7):
        with pinned_private_randomness(start):
            included.setdefault(start, []).append(audit("dp-vae", canaries=100, seed=5).canaries_included)
    assert included[0][0] == included[0][1]
    assert included[7][0] != included[0][0]


@pytest.mark.parametrize("overrides, error, message", [
    ({"generator": "sdv-tvae"}, DpsynthError, "NOT PRIVATE reference"),
    ({"canaries": 10}, SchemaError, "canaries must be a whole number >= 50"),
    ({"canaries": 50.5}, SchemaError, "canaries must be a whole number >= 50"),
    ({"canaries": 201}, SchemaError, "more than the data's 200 privacy units"),
    ({"data": make_toy_frame(n=30)}, SchemaError, "the data has 30 privacy unit"),
    ({"epsilon": 0.0}, BudgetError, "epsilon must be a finite number > 0"),
    ({"epsilon": None}, BudgetError, "--epsilon"),
    ({"delta": 2.0}, BudgetError, "delta must be in (0, 1)"),
    ({"epsilon": 1e-6}, BudgetError, "too small to train"),
    ({"generator": "dp-series-vae"}, SchemaError, "is for series data, but the schema describes tabular"),
    ({"draws": 0}, DpsynthError, "draws must be a whole number >= 1"),
    ({"schema": TabularSchema.from_dict(make_toy_schema().to_dict() | {"columns": [
        c | {"public": False} if c["name"] == "age" else c for c in make_toy_schema().to_dict()["columns"]]})},
     SchemaError, "needs a fully public schema"),
])
def test_impossible_inputs_are_clear_errors(overrides, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        audit("dp-vae", **overrides)


def test_the_audit_reports_what_it_ran_with():
    result = audit("dp-gan", seed=3)
    assert result.settings["seed"] == 3 and result.settings["draws"] == 2
    assert result.settings["params"]["epochs"] == 1 and len(result.settings["guess_rules"]) == 12
    assert privacy_audit.NOT_A_RELEASE.startswith("one-run privacy audit")
