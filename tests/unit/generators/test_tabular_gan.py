"""The DP-GAN: only the discriminator is private, and it spends exactly what the ledger charged."""

import pandas as pd
import pytest
import torch

from dpsynth import registry
from dpsynth.families import gan, training
from dpsynth.privacy.conditions import NOISY, WEIGHT
from dpsynth.tabular.generator import TabularGenerator
from dpsynth.privacy.budget import PrivacyBudget
from dpsynth.privacy.dpsgd import epsilon_for_history
from tests.conftest import make_toy_frame, make_toy_schema, pinned_private_randomness

BUDGET = PrivacyBudget(1.0, 1e-5)
TINY_GAN = dict(epochs=2, batch_size=64, hidden=(32,), latent_dim=8, n_bins=8)


def fit_tiny(**params):
    model = registry.create("dp-gan", make_toy_schema(), **(TINY_GAN | params))
    return model.fit(make_toy_frame(), budget=BUDGET, random_state=0, progress=False)


@pytest.fixture(scope="module")
def spied():
    """A fitted model plus what opacus was given (make_private's arguments) and the D steps run."""
    seen: dict = {"d_calls": 0}
    original = training.PrivacyEngine.make_private
    original_forward = gan.DiscriminatorLoss.forward

    def spy(self, **kwargs):
        seen.update(kwargs)
        return original(self, **kwargs)

    def counting_forward(self, *args):
        seen["d_calls"] += 1
        return original_forward(self, *args)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(training.PrivacyEngine, "make_private", spy)
        mp.setattr(gan.DiscriminatorLoss, "forward", counting_forward)
        model = fit_tiny()
    return model, seen


def test_is_registered_with_family_and_modality():
    info = registry.get("dp-gan")
    assert (info.family, info.modality, info.private) == ("gan", "tabular", True)


def test_ledger_holds_condition_counts_and_one_dp_sgd_entry(spied):
    model, _ = spied
    assert [e.mechanism for e in model.ledger_.entries] == ["laplace-histogram", "dp-sgd"]
    eps, delta = model.privacy_spent()
    assert eps <= BUDGET.epsilon + 1e-9 and delta <= BUDGET.delta


def test_card_epsilon_is_what_opacus_computes_for_the_recorded_history(spied):
    model, seen = spied
    card = model.privacy_card()
    (sgd,) = card.dp_sgd
    recomputed = epsilon_for_history(sgd.history, delta=sgd.delta, accountant=sgd.accountant)
    assert sgd.epsilon == pytest.approx(recomputed, rel=1e-9)
    assert model.log_.steps == sgd.steps == model.plan_.steps
    assert seen["d_calls"] == model.plan_.steps  # one discriminator forward per private step


def test_only_the_discriminator_is_private(spied):
    model, seen = spied
    private = {id(p) for p in seen["module"].parameters()}
    assert private == {id(p) for p in model.module_.discriminator.parameters()}
    assert not private & {id(p) for p in model.module_.generator.parameters()}
    optimized = {id(p) for group in seen["optimizer"].param_groups for p in group["params"]}
    assert optimized == private
    assert seen["poisson_sampling"] is True and seen["grad_sample_mode"] == "ghost"
    assert seen["noise_multiplier"] == model.plan_.noise_multiplier
    assert seen["max_grad_norm"] == model.plan_.max_grad_norm
    assert seen["data_loader"].batch_size == model.plan_.batch_size
    # no opacus state left on any parameter or module after training
    assert not any(hasattr(p, "grad_sample") and p.grad_sample is not None for p in model.module_.parameters())
    assert not any(m._forward_hooks or m._backward_hooks for m in model.module_.modules())


def test_discriminator_passes_opacus_validation(spied):
    from opacus.validators import ModuleValidator

    model, _ = spied
    d = model._build_module(model.codec_).discriminator.train()
    assert ModuleValidator.validate(d, strict=False) == []
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.module_.modules())


def test_fakes_use_dp_conditions_not_the_real_batch(spied):
    """The generator sees only public/DP inputs: conditions come from the DP table."""
    model, _ = spied
    sample = model._condition_sampler()
    c = sample(500)
    assert c.shape == (500, model.codec_.condition_width) and sample(0).shape[0] == 0
    cells = torch.from_numpy(model.codec_.encode_conditions(
        model.condition_table_.drop(columns=["_weight", "_noisy"])))
    assert all((cells == row).all(-1).any() for row in c[:50])


def test_soft_rows_are_in_the_codec_encoding(spied):
    model, _ = spied
    codec = model.codec_
    soft = model.module_.fake(torch.zeros(7, 3, codec.condition_width))
    assert soft.shape == (7, 3, codec.width) and (soft >= 0).all()
    lab = codec.blocks_of("lab")
    present = soft[..., lab["missing"].start]
    for block in codec.blocks:
        total = soft[..., block.start:block.stop].sum(-1)
        expected = present if block.column == "lab" and block.role in ("bin", "fine") else torch.ones_like(total)
        torch.testing.assert_close(total, expected)


def test_fakes_stay_inside_their_condition_cell(spied):
    """A fake conditioned on an outcome carries that outcome, and an age band's fakes use only
    that band's bins, as decoded samples do: otherwise the generator may pair one outcome's
    condition with the other's rows, and decoding writes the condition's label on them."""
    model, _ = spied
    codec = model.codec_
    cells = model.condition_table_.drop(columns=[WEIGHT, NOISY]).sample(200, replace=True, random_state=0)
    cells = cells.reset_index(drop=True)
    soft = model.module_.fake(torch.from_numpy(codec.encode_conditions(cells)).float())
    target = codec.blocks_of("outcome")["category"]
    wanted = torch.from_numpy(codec.condition_masks(cells)[("outcome", "category")].astype("float32"))
    torch.testing.assert_close(soft[:, target.start:target.stop], wanted)
    bins = codec.blocks_of("age")["bin"]
    outside = ~torch.from_numpy(codec.condition_masks(cells)[("age", "bin")])
    assert soft[:, bins.start:bins.stop][outside].abs().max() == 0


def test_same_seed_is_not_the_same_model_and_save_load_round_trip(spied, tmp_path):
    """Rule 9: the seed is public, the training noise is not; a saved model samples as it did."""
    model, _ = spied
    again = fit_tiny()
    assert not model.sample(100, random_state=3).equals(again.sample(100, random_state=3))
    model.save(tmp_path / "model")
    loaded = TabularGenerator.load(tmp_path / "model")
    assert (loaded.latent_dim, loaded.training.lr) == (8, model.training.lr)
    pd.testing.assert_frame_equal(model.sample(100, random_state=3), loaded.sample(100, random_state=3))


def test_hooks_mode_trains_the_same_discriminator_as_ghost_mode():
    """Ghost clipping's per-unit norms (one D call on real+fake rows) match per-sample hooks."""
    with pinned_private_randomness():  # the same draws in both fits; the uniform mix needs no noisy counts
        ghost = fit_tiny(condition_share=0.0)
    with pinned_private_randomness():
        hooks = fit_tiny(grad_sample_mode="hooks", condition_share=0.0)
    for a, b in zip(ghost.module_.state_dict().values(), hooks.module_.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_subject_is_the_privacy_unit():
    frame = make_toy_frame(n=600)
    frame.insert(0, "patient", (frame.index // 3).astype(str))
    schema = make_toy_schema()
    schema.subject_id = "patient"
    model = registry.create("dp-gan", schema, **TINY_GAN).fit(frame, budget=BUDGET, random_state=0,
                                                              progress=False)
    assert model.n_units_ == 200 and model.log_.steps == model.plan_.steps
    assert len(model.sample(20, random_state=0)) == 20


def test_auxiliary_classifier_cannot_see_the_condition_columns(spied):
    """The AC head predicts the conditions from the *other* columns: the target's and each
    sensitive attribute's source columns are hidden from it (else it would learn a copy)."""
    model, _ = spied
    codec, d = model.codec_, model.module_.discriminator
    hidden_columns = {"outcome", "sex", "race", "age"}
    for block in codec.blocks:
        expected = 0.0 if block.column in hidden_columns else 1.0
        assert (d.feature_mask[block.start:block.stop] == expected).all(), block
    x = torch.rand(5, codec.width)
    changed = x.clone()
    for column in hidden_columns:
        for block in codec.blocks_of(column).values():
            changed[:, block.start:block.stop] = torch.rand(5, block.size)
    c = torch.from_numpy(codec.encode_conditions(model.condition_table_.drop(columns=["_weight", "_noisy"])[:5]))
    torch.testing.assert_close(d.aux_loss(x, c), d.aux_loss(changed, c))
    assert (d.aux_loss(x, c) > 0).all()


def test_aux_weight_zero_is_a_plain_conditional_gan():
    model = fit_tiny(aux_weight=0.0)
    d = model.module_.discriminator
    assert d.classifier is None and (d.aux_loss(torch.rand(3, model.codec_.width), torch.rand(3, 4)) == 0).all()


def test_extra_generator_steps_leave_the_private_steps_and_epsilon_unchanged(spied):
    """Generator steps are post-processing of the DP discriminator: more of them cost nothing."""
    model, _ = spied
    more = fit_tiny(generator_steps=3)
    assert more.log_.steps == model.log_.steps == model.plan_.steps
    assert more.privacy_spent() == model.privacy_spent()
    assert more.privacy_card().dp_sgd[0].history == model.privacy_card().dp_sgd[0].history


def test_membership_score_is_the_discriminators_mean_logit_over_a_units_rows():
    """The audit's GAN score (`ConditionalGAN.realness`): D's logit per row, averaged over the
    unit's present rows only; padding rows do not count."""
    model = fit_tiny(epochs=1)
    module = model.module_
    x, c = torch.randn(3, 2, model.codec_.width), torch.zeros(3, 2, model.codec_.condition_width)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    logits = module.discriminator.logits(x, c)
    expected = torch.stack([logits[0].mean(), logits[1, 0], logits[2, 1]])
    torch.testing.assert_close(module.realness(x, c, mask), expected)
    scores = model.membership_scores(model.canary_units(60), draws=3)
    assert scores.shape == (60,) and torch.isfinite(torch.from_numpy(scores)).all()


def test_declared_rules_hold_in_every_sampled_row():
    """The GAN decodes through the same codec: every rule of the schema holds by construction."""
    from tests.conftest import make_ruled_toy_frame, make_ruled_toy_schema

    schema = make_ruled_toy_schema()
    model = registry.create("dp-gan", schema, **(TINY_GAN | {"epochs": 1}))
    model.fit(make_ruled_toy_frame(), budget=PrivacyBudget(1.0, 1e-5), random_state=0, progress=False)
    out = model.sample(400, random_state=1)
    for rule in schema.rules:
        assert rule.holds(out).all(), rule.label
    schema.conform(out)
