"""Anchored decoders: logits start from the measured marginals, DP-SGD trains only the network."""

import math

import torch

from dpsynth.backbones import MLP
from dpsynth.families.anchor import ANCHOR_LABEL, AnchoredDecoder, measure_anchor, plan_anchor
from dpsynth.families.marginal import ONE_WAY, PAIRS, MarginalParams, TargetMarginals

LATENT, WIDTH, TARGETS = 3, 5, 2


def make_decoder():
    anchor = TargetMarginals(WIDTH, TARGETS)
    anchor.log_probs.copy_(torch.log_softmax(torch.randn(TARGETS, WIDTH), -1))
    return AnchoredDecoder(MLP(LATENT + TARGETS, WIDTH, (8,)), anchor, LATENT)


def test_before_any_step_the_logits_are_the_measured_ones_for_each_rows_target():
    decoder = make_decoder()
    c = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    zc = torch.cat([torch.randn(3, LATENT), c], -1)
    out = decoder(zc)
    assert torch.equal(out, decoder.anchor.log_probs[[0, 1, 1]])
    assert decoder(zc[None]).shape == (1, 3, WIDTH)  # units × rows, as the VAE calls it


def test_dp_sgd_can_move_the_network_but_never_the_measured_table():
    decoder = make_decoder()
    trainable = {id(p) for p in decoder.parameters()}
    assert all(id(b) not in trainable for b in decoder.anchor.buffers())
    assert list(decoder.anchor.parameters()) == []
    assert len(list(decoder.network.parameters())) > 0


def test_the_anchor_plan_splits_rho_as_the_marginal_family_does_and_names_itself():
    plan = plan_anchor(epsilon=0.6, delta=5e-6)
    defaults = MarginalParams()
    assert plan.epsilon <= 0.6 and plan.delta == 5e-6
    assert math.isclose(plan.stages[ONE_WAY], defaults.one_way_share * plan.rho)
    assert math.isclose(plan.stages[PAIRS], (1 - defaults.one_way_share) * plan.rho)
    assert math.isclose(sum(plan.stages.values()), plan.rho)
    assert plan.label == ANCHOR_LABEL and plan.parts == (plan,)


def test_measuring_fills_the_anchor_within_its_plan():
    decoder = make_decoder()
    n = 400
    y = torch.randint(0, TARGETS, (n,))
    c = torch.nn.functional.one_hot(y, TARGETS).float()
    x = torch.zeros(n, WIDTH)
    x[torch.arange(n), y] = 1.0  # block 0: the target itself (two cells)
    x[torch.arange(n), 2 + y] = 1.0  # block 1: three cells, the first two follow the target
    tensors = (x[:, None], c[:, None], torch.ones(n, 1))
    plan = plan_anchor(epsilon=2.0, delta=1e-5)
    log = measure_anchor(decoder, tensors, plan, measured=[slice(0, 2), slice(2, 5)], target_block=0,
                         merges=["categories", "categories"], complete={0, 1}, progress=False)
    plan.check_spent()
    assert {stage for stage, _ in plan.spent} == {ONE_WAY, PAIRS}
    assert log.chosen == (1,) and decoder.anchor.measured_pairs[2:5].all()
    probs = decoder.anchor.log_probs[:, 2:5].exp()
    assert probs[0, 0] > 0.8 and probs[1, 1] > 0.8  # the pair follows the target
