"""The NOT PRIVATE SDV references: SDV-specific wiring (the shared contract is in
tests/conformance/test_reference_generators.py)."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from dpsynth import registry
from dpsynth.errors import BudgetError, DpsynthError, SchemaError
from dpsynth.generators import sdv_reference
from dpsynth.generators.sdv_reference import sdv_metadata_dict
from dpsynth.pipeline import generate
from tests.conftest import make_toy_frame, make_toy_schema
from tests.extras import needs_sdv

ROOT = Path(__file__).resolve().parents[3]
TINY_CTGAN = dict(epochs=1, batch_size=200, hidden=(16,), embedding_dim=16)


def fit_copula(frame=None, schema=None, **kwargs):
    model = registry.create("sdv-gaussiancopula", schema or make_toy_schema())
    return model.fit(make_toy_frame() if frame is None else frame, progress=False, **kwargs)


def test_sdv_is_imported_only_when_a_reference_is_fitted():
    code = ("import sys; from dpsynth import registry; "
            "names = [i.name for i in registry.available()]; "
            "registry.create('sdv-ctgan', None, epochs=1); "
            "assert 'sdv-ctgan' in names and 'sdv' not in sys.modules, sorted(m for m in sys.modules if 'sdv' in m)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_missing_sdv_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "sdv", None)  # `import sdv` now raises ImportError
    with pytest.raises(DpsynthError, match=r"pip install 'dpsynth\[reference\]'"):
        fit_copula()


@needs_sdv
def test_metadata_comes_from_the_public_schema_not_the_data(monkeypatch):
    from sdv.metadata import Metadata
    from sdv.metadata._single_table import _SingleTableMetadata

    def must_not_detect(*args, **kwargs):
        raise AssertionError("SDV metadata must not be detected from the private data")

    for name in ("detect_from_dataframes", "detect_from_csvs"):
        monkeypatch.setattr(Metadata, name, must_not_detect)
    for name in ("detect_from_dataframe", "_detect_columns"):
        monkeypatch.setattr(_SingleTableMetadata, name, must_not_detect)
    model = fit_copula()
    columns = sdv_metadata_dict(make_toy_schema())["tables"]["data"]["columns"]
    assert columns["age"] == {"sdtype": "numerical", "range_is_nullable": False, "range_min": 18.0, "range_max": 110.0}
    assert columns["heart_rate"]["decimal_places"] == 0
    assert columns["lab"]["range_is_nullable"] is True
    assert columns["race"] == {"sdtype": "categorical", "range_is_nullable": False,
                               "range_values": ["white", "black", "asian", "other"]}
    fitted_columns = model.synthesizer_.get_metadata().to_dict()["tables"]["data"]["columns"]
    assert fitted_columns == columns


def test_constructor_stores_parameters_only():
    model = registry.create("sdv-ctgan", make_toy_schema(), epochs=3, batch_size=100, hidden=[8, 8], pac=5)
    assert (model.epochs, model.batch_size, model.hidden, model.sdv_params) == (3, 100, (8, 8), {"pac": 5})
    assert not hasattr(model, "synthesizer_")
    params = model.get_params()
    assert params["hidden"] == [8, 8] and params["pac"] == 5 and params["enable_gpu"] is False
    json.dumps(params)
    with pytest.raises(TypeError, match="verbose"):
        registry.create("sdv-tvae", make_toy_schema(), verbose=True)
    with pytest.raises(TypeError, match="epochs"):
        registry.create("sdv-gaussiancopula", make_toy_schema(), epochs=1)


@needs_sdv
def test_hidden_maps_to_both_networks_and_the_card_records_the_parameters():
    model = registry.create("sdv-ctgan", make_toy_schema(), **TINY_CTGAN).fit(make_toy_frame(n=200), progress=False)
    params = model.synthesizer_.get_parameters()
    assert tuple(params["generator_dim"]) == (16,) and tuple(params["discriminator_dim"]) == (16,)
    assert params["epochs"] == 1 and params["enable_gpu"] is False
    card = model.privacy_card()
    assert card.reference["synthesizer"] == "CTGANSynthesizer" and card.reference["params"]["epochs"] == 1
    used = card.reference["sdv_parameters"]  # SDV's defaults included
    assert used["generator_dim"] == [16] and used["pac"] == 10 and "verbose" not in used


@needs_sdv
def test_unknown_sdv_parameter_is_a_clear_error():
    model = registry.create("sdv-gaussiancopula", make_toy_schema(), no_such_option=1)
    with pytest.raises(DpsynthError, match="GaussianCopulaSynthesizer rejects.*no_such_option"):
        model.fit(make_toy_frame(), progress=False)


def test_ctgan_batch_size_must_fit_pac():
    model = registry.create("sdv-ctgan", make_toy_schema(), epochs=1, batch_size=64)
    with pytest.raises(DpsynthError, match="batch_size must be a multiple of 2 and of pac=10"):
        model.fit(make_toy_frame(), progress=False)


def test_bad_data_gets_the_same_clear_errors_as_private_generators():
    frame = make_toy_frame()
    frame.loc[0, "race"] = "martian"
    with pytest.raises(SchemaError, match="column 'race'.*martian"):
        fit_copula(frame)
    with pytest.raises(SchemaError, match="missing column"):
        fit_copula(make_toy_frame().drop(columns=["lab"]))


@needs_sdv
def test_schema_without_bounds_is_refused_but_data_derived_values_are_accepted():
    schema = make_toy_schema()
    schema.columns[0].lower = None
    with pytest.raises(SchemaError, match=r"age\.bounds \(not set\)"):
        fit_copula(schema=schema)
    schema = make_toy_schema()
    schema.columns[0].public = False  # a drafted schema: fine for a non-private reference
    assert len(fit_copula(schema=schema).sample(10)) == 10


@needs_sdv
def test_subject_id_is_not_modelled():
    schema = make_toy_schema()
    schema.subject_id = "patient"
    frame = make_toy_frame().assign(patient=lambda f: [f"p{i // 2}" for i in range(len(f))])
    out = fit_copula(frame, schema=schema).sample(30, random_state=0)
    assert list(out.columns) == schema.names


@needs_sdv
def test_outputs_of_a_widely_bounded_model_are_clipped_to_the_public_bounds():
    schema = make_toy_schema()
    frame = make_toy_frame()
    schema.columns[0].upper = 60  # tighter public bound than the data: clipped on input and output
    schema.columns[0].out_of_bounds = "clip"
    model = fit_copula(frame, schema=schema)
    assert model.data_report_.clipped["age"] > 0
    out = model.sample(300, random_state=0)
    assert out["age"].between(18, 60).all()


@needs_sdv
def test_learn_domain_share_is_ignored_with_a_warning():
    with pytest.warns(UserWarning, match="learn_domain_share is ignored"):
        fit_copula(learn_domain_share=0.1)


@needs_sdv
def test_rebalance_is_not_supported():
    with pytest.raises(DpsynthError, match="rebalance is not supported"):
        fit_copula().sample(10, rebalance={"race": "equal"})


@needs_sdv
def test_unknown_condition_is_the_usual_clear_error():
    model = fit_copula()
    with pytest.raises(SchemaError, match="takes one of"):
        model.sample(10, conditions={"sex": "unknown"})
    with pytest.raises(SchemaError, match="neither the target nor a sensitive attribute"):
        model.sample(10, conditions={"heart_rate": 80})


@needs_sdv
def test_a_rare_group_that_cannot_be_reached_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(sdv_reference, "MAX_ROUNDS", 1)
    with pytest.raises(DpsynthError, match=r"produced only \d+ of 2000 rows matching"):
        fit_copula().sample(2000, conditions={"race": "other", "age_band": "18-49"}, random_state=0)


@needs_sdv
def test_sdv_usage_log_is_disabled():
    logger = logging.getLogger("SingleTableSynthesizer")
    handler = logging.StreamHandler()
    logger.addHandler(handler)  # as if a user's SDV config had switched its CSV usage log on
    fit_copula().sample(5)
    assert handler not in logger.handlers and logger.disabled


@needs_sdv
def test_no_scratch_files_are_written(tmp_path, monkeypatch):
    """SDV can write sampled rows to a folder; dpsynth never asks it to (nor does it by default)."""
    monkeypatch.chdir(tmp_path)
    model = fit_copula()
    model.sample(50, random_state=0)
    model.sample(20, conditions={"outcome": "yes", "age_band": "70+"}, random_state=0)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the pipeline
@needs_sdv
def test_generate_writes_rows_and_a_not_private_card_but_no_model(tmp_path):
    train = make_toy_frame(n=300)
    result = generate(data=train, schema=make_toy_schema(), generator="sdv-gaussiancopula", out_dir=tmp_path,
                      seed=2, progress=False)
    assert result.model_dir is None and not (tmp_path / "model").exists()
    card = json.loads(result.card_path.read_text())
    assert card["private"] is False and card["epsilon"] == "inf"
    assert card["rows_released"] == 300 and "training rows" in card["rows_source"]
    assert card["synthetic_file"] == "synthetic.csv" and card["seed"] == 2
    assert len(pd.read_csv(result.synthetic_path)) == 300


@needs_sdv
def test_generate_with_an_epsilon_for_a_reference_warns(tmp_path):
    with pytest.warns(UserWarning, match="budget .* is ignored"):
        result = generate(data=make_toy_frame(n=300), schema=make_toy_schema(), generator="sdv-gaussiancopula",
                          epsilon=1.0, rows=20, out_dir=tmp_path, progress=False)
    assert result.card.rows_released == 20 and result.card.rows_source == "user"


def test_generate_requires_epsilon_for_a_private_generator(tmp_path):
    with pytest.raises(BudgetError, match=r"--epsilon .* is required for the private generator 'dp-vae'.*sdv-ctgan"):
        generate(data=make_toy_frame(), schema=make_toy_schema(), generator="dp-vae", out_dir=tmp_path)
    assert not any(tmp_path.iterdir())


@needs_sdv
def test_declared_rules_are_enforced_after_sdv_samples():
    """SDV does not use our codec: the derived columns are recomputed and ranges clipped after
    sampling, so every rule holds (conditional draws included)."""
    from tests.conftest import make_ruled_toy_frame, make_ruled_toy_schema

    schema = make_ruled_toy_schema()
    model = fit_copula(frame=make_ruled_toy_frame(), schema=schema)
    for out in (model.sample(300, random_state=1), model.sample(50, conditions={"age_band": "70+"}, random_state=2)):
        for rule in schema.rules:
            assert rule.holds(out).all(), rule.label
        schema.conform(out)
