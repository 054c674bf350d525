"""Non-private pretraining on public data, before DP-SGD fine-tuning on the private data.

Only public records reach this loop (e.g. `dpsynth.images.public`), so it spends no ε and
may use the user's seed; the module it leaves is the starting point of DP-SGD, like an
initialisation. The loop trains the family's own per-unit loss (the module's forward, as
in `dpsynth.families.training`) with plain Adam on uniform minibatches. Each public record
is its own unit and carries the null condition (all zeros): public images have no label or
attributes, and the conditional families already learn that null condition for guidance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from tqdm.auto import tqdm

from dpsynth.devices import module_device

PRETRAIN_BATCH = 256
PRETRAIN_LR = 1e-3


@dataclass(frozen=True)
class Pretraining:
    """What a fit's public pretraining was (for the privacy card): its source, size, steps, loss."""

    source: str
    records: int
    steps: int
    final_loss: float

    def card_entry(self) -> dict[str, object]:
        return {"source": self.source, "records": self.records, "steps": self.steps, "epsilon": 0.0,
                "note": "non-private pretraining on public data only; DP-SGD fine-tunes from its weights"}


def pretrain(module: nn.Module, x: torch.Tensor, condition_width: int, *, steps: int, source: str,
             generator: torch.Generator, progress: bool, desc: str = "pretrain (public)") -> Pretraining:
    """``steps`` Adam steps of the module's per-unit loss on public rows ``x`` [n, width] (each
    its own unit, null condition). Returns what ran, for the card."""
    device = module_device(module)
    optimizer = torch.optim.Adam(module.parameters(), lr=PRETRAIN_LR)
    module.train()
    loss = torch.tensor(float("nan"))
    for _ in tqdm(range(steps), desc=desc, disable=not progress, leave=False, unit="step"):
        index = torch.randint(0, len(x), (min(PRETRAIN_BATCH, len(x)),), generator=generator)
        rows = x[index][:, None].to(device)  # [B, 1, width]: one row per unit
        conditions = torch.zeros(len(index), 1, condition_width, device=device)
        optimizer.zero_grad(set_to_none=True)
        loss = module(rows, conditions, torch.ones(len(index), 1, device=device)).mean()
        loss.backward()
        optimizer.step()
    return Pretraining(source=source, records=len(x), steps=steps, final_loss=float(loss.detach()))
