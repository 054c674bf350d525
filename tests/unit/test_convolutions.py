"""Convolutions with exact per-unit norms: the two norm forms agree with the per-unit
gradient, both convolution types have opacus samplers, and a unit's rows share one norm."""

import pytest
import torch
from opacus.grad_sample import GradSampleModule, GradSampleModuleFastGradientClipping

from dpsynth.convolutions import Conv2dPatch, TemporalConv, unit_linear_norms


@pytest.mark.parametrize("positions", [2, 300])  # the Gram form / the per-unit gradient form
def test_unit_linear_norms_are_the_norms_of_per_unit_gradients(positions):
    torch.manual_seed(0)
    a, g = torch.randn(5, positions, 6), torch.randn(5, positions, 4)
    weight, bias = unit_linear_norms(a, g)
    torch.testing.assert_close(weight, torch.einsum("ntp,ntd->npd", g, a).flatten(1).norm(dim=1),
                               rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(bias, g.sum(1).norm(dim=1), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("conv, shape", [(TemporalConv(3, 4, 5, stride=2, padding=2), (6, 2, 11, 3)),
                                         (Conv2dPatch(2, 3, 3, stride=2, padding=1), (6, 2, 7, 5, 2))])
@pytest.mark.parametrize("mode", ["ghost", "hooks"])
def test_opacus_gives_each_unit_of_several_rows_its_exact_norm(conv, shape, mode):
    torch.manual_seed(1)
    x = torch.randn(*shape)  # 6 units of 2 windows / images

    def loss(inputs):
        return conv(inputs).pow(2).flatten(1).sum(1)  # one loss per unit

    exact = []
    for unit in range(len(x)):
        grads = torch.autograd.grad(loss(x[unit:unit + 1]).sum(), [conv.weight, conv.bias])
        exact.append(torch.sqrt(sum(g.pow(2).sum() for g in grads)))
    if mode == "ghost":
        gsm = GradSampleModuleFastGradientClipping(conv, loss_reduction="sum", max_grad_norm=1.0,
                                                   use_ghost_clipping=True)
        gsm.train()
        gsm(x).pow(2).flatten(1).sum(1).sum().backward()
        norms = gsm.get_norm_sample().detach()
    else:
        gsm = GradSampleModule(conv, loss_reduction="sum")
        gsm(x).pow(2).flatten(1).sum(1).sum().backward()
        norms = torch.sqrt(conv.weight.grad_sample.flatten(1).pow(2).sum(1) + conv.bias.grad_sample.pow(2).sum(1))
    gsm._close()
    torch.testing.assert_close(norms, torch.stack(exact), rtol=1e-3, atol=1e-5)
