import numpy as np
import pandas as pd
import pytest
import torch

from dpsynth.tabular.codec import TabularCodec
from dpsynth.errors import SchemaError
from tests.conftest import make_ruled_toy_frame, make_ruled_toy_schema, make_toy_frame, make_toy_schema


def conformed(frame=None):
    schema = make_toy_schema()
    return schema, schema.conform(make_toy_frame() if frame is None else frame)[0]


def test_layout_comes_from_the_schema_only():
    schema, _ = conformed()
    codec = TabularCodec(schema, n_bins=8)
    roles = [(b.column, b.role, b.size) for b in codec.blocks]
    assert ("lab", "missing", 2) in roles and ("lab", "bin", 8) in roles and ("lab", "fine", 8) in roles
    assert ("race", "category", 4) in roles and ("outcome", "category", 2) in roles
    assert codec.width == sum(b.size for b in codec.blocks)
    assert codec.condition_domains == {"outcome": ["no", "yes"], "sex": ["female", "male"],
                                       "race": ["white", "black", "other"], "age_band": ["18-49", "50-69", "70+"]}


def test_the_counted_blocks_are_all_but_the_fine_bins_with_the_target_found_and_bins_merged_in_order():
    schema, _ = conformed()
    codec = TabularCodec(schema, n_bins=8)
    counted = codec.counted_blocks()
    assert [b for b in codec.blocks if b not in counted] == [b for b in codec.blocks if b.role == "fine"]
    slices, target = codec.measured_slices()
    assert [(s.start, s.stop) for s in slices] == [(b.start, b.stop) for b in counted]
    assert counted[target].column == schema.target
    assert codec.pair_merges() == ["ordered" if b.role == "bin" else "categories" for b in counted]
    assert "ordered" in codec.pair_merges() and "categories" in codec.pair_merges()


def test_encode_is_one_hot_per_block():
    schema, frame = conformed()
    codec = TabularCodec(schema)
    x = codec.encode(frame)
    for b in codec.blocks:
        part = x[:, b.start:b.stop]
        if b.role in ("bin", "fine") and b.column == "lab":
            missing = frame["lab"].isna().to_numpy()
            assert (part[missing].sum(1) == 0).all() and (part[~missing].sum(1) == 1).all()
        else:
            assert (part.sum(1) == 1).all()


def test_round_trip_through_perfect_logits_recovers_values():
    schema, frame = conformed()
    codec = TabularCodec(schema, n_bins=16)
    x = codec.encode(frame)
    logits = np.where(x > 0.5, 50.0, -50.0).astype(np.float32)
    cells = schema.group_labels(frame)
    back = codec.decode(logits, cells, rng=np.random.default_rng(0))
    pd.testing.assert_series_equal(back["race"], frame["race"].reset_index(drop=True), check_names=False)
    # two-level bins: 16 x 16 levels over the public range [18, 110]
    np.testing.assert_allclose(back["age"], frame["age"], atol=(110 - 18) / 256)
    np.testing.assert_allclose(back["heart_rate"], frame["heart_rate"], atol=300 / 256 + 0.5)
    assert (back["heart_rate"] == back["heart_rate"].round()).all()
    np.testing.assert_array_equal(back["lab"].isna(), frame["lab"].isna())


def test_decode_respects_condition_cells():
    schema, frame = conformed()
    codec = TabularCodec(schema)
    n = 500
    cells = pd.DataFrame({"outcome": ["yes"] * n, "sex": ["female"] * n, "race": ["other"] * n,
                          "age_band": ["70+"] * n})
    out = codec.decode(np.random.default_rng(0).normal(size=(n, codec.width)).astype(np.float32), cells,
                       rng=np.random.default_rng(1))
    assert (out["outcome"] == "yes").all() and (out["sex"] == "female").all()
    assert out["race"].isin(["asian", "other"]).all()
    assert (out["age"] >= 70).all() and (out["age"] <= 110).all()
    assert (out["heart_rate"] == out["heart_rate"].round()).all()


def test_row_loss_is_per_row_and_zero_for_perfect_predictions():
    schema, frame = conformed()
    codec = TabularCodec(schema)
    x = torch.from_numpy(codec.encode(frame))
    perfect = torch.where(x > 0.5, 60.0, -60.0)
    assert codec.row_loss(perfect, x).shape == (len(frame),)
    assert codec.row_loss(perfect, x).max() < 1e-3
    assert codec.row_loss(torch.zeros_like(x), x).min() > 0.1


def test_refuses_a_schema_with_non_public_values():
    schema = make_toy_schema()
    schema.columns[0].public = False
    with pytest.raises(SchemaError, match="not confirmed public: age.bounds"):
        TabularCodec(schema)


def test_rule_2_encoding_is_row_by_row():
    """Rule 2: a row's encoding depends on that row and the public schema only — never on the
    other private rows (e.g. bin edges fitted inside `encode` while the stored edges stay)."""
    schema, frame = conformed()
    codec = TabularCodec(schema)
    whole = codec.encode(frame)
    np.testing.assert_array_equal(codec.encode(frame.iloc[:40]), whole[:40])
    extreme = frame.iloc[40:].assign(age=109.9, heart_rate=299.0, lab=49.0)
    np.testing.assert_array_equal(codec.encode(pd.concat([frame.iloc[:40], extreme]))[:40], whole[:40])


def test_decoded_values_keep_the_declared_decimals_inside_the_bounds():
    schema = make_toy_schema()
    spec = schema.to_dict()
    spec["columns"][4]["decimals"] = 1  # lab
    schema = type(schema).from_dict(spec)
    codec = TabularCodec(schema)
    cells = schema.group_labels(schema.conform(make_toy_frame())[0])
    out = codec.decode(np.random.default_rng(0).normal(size=(len(cells), codec.width)).astype(np.float32), cells,
                       rng=np.random.default_rng(1))
    lab = out["lab"].dropna()
    assert len(lab) and np.allclose(lab, lab.round(1), atol=0, rtol=0) and lab.between(0, 50).all()
    assert out["age"].round(1).ne(out["age"]).any()  # no decimals declared: full precision


def ruled_codec_output(n=2000, seed=0):
    schema = make_ruled_toy_schema()
    frame = schema.conform(make_ruled_toy_frame())[0]
    codec = TabularCodec(schema, n_bins=8)
    cells = schema.group_labels(frame).sample(n, replace=True, random_state=seed).reset_index(drop=True)
    noise = np.random.default_rng(seed).normal(scale=3.0, size=(n, codec.width)).astype(np.float32)
    return schema, frame, codec, codec.decode(noise, cells, rng=np.random.default_rng(seed + 1))


def test_derived_columns_have_no_block_and_are_not_encoded():
    schema, frame, codec, _ = ruled_codec_output(n=10)
    columns = {b.column for b in codec.blocks}
    assert "race_group" not in columns and "score" not in columns and {"race", "lab", "age"} <= columns
    assert codec.encode(frame).shape == (len(frame), codec.width)
    assert [c.name for c in codec.modelled] == [n for n in schema.names if n not in ("race_group", "score")]


def test_decode_keeps_every_declared_rule_by_construction():
    """Whatever the network outputs (here: noise), every decoded row keeps every rule."""
    schema, _, _, out = ruled_codec_output()
    assert list(out.columns) == schema.names
    for rule in schema.rules:
        assert rule.holds(out).all(), rule.label
    schema.conform(out)  # raises on a broken rule
    assert (out["race_group"] == out["race"].map({"asian": "other"}).fillna(out["race"])).all()
    np.testing.assert_allclose(out["score"], out["age"] + out["heart_rate"])


def test_range_rule_restricts_the_drawn_bins_not_just_the_clip():
    """Values in a range come from the bins that meet it: few pile up on the range's edge."""
    _, _, _, out = ruled_codec_output()
    lab = out.loc[out["race_group"] == "other", "lab"].dropna()
    assert len(lab) > 50 and lab.between(0, 2).all()
    assert (lab == 2).mean() < 0.25 and lab.nunique() > 20
    assert out.loc[out["race_group"] != "other", "lab"].max() > 2  # other groups keep the public bounds
