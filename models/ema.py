"""An exponential moving average of a module's weights (Polyak averaging), kept beside the
module that trains. Not in the paper; a candidate against the training noise of issue 11
(two trainings of one variant at the same budget differed by up to 14% N-MPJPE): the
average of the last few hundred steps' weights moves less with the last steps' batches."""

from __future__ import annotations

import copy

import torch
from torch import nn


class WeightAverage:
    """``average`` holds the EMA of ``module``'s parameters and floating buffers.

    The decay ramps up as (1 + n) / (10 + n) after n updates, capped at ``decay``, so the
    first steps' random weights do not linger (the usual warm-up of an EMA of weights).
    """

    def __init__(self, module: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay {decay}: must lie in (0, 1)")
        self.decay, self.updates = decay, 0
        self.average = copy.deepcopy(module).eval()
        self.average.requires_grad_(False)

    def rate(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        d = self.rate()
        current = module.state_dict()
        for name, avg in self.average.state_dict().items():
            new = current[name].detach()
            if avg.is_floating_point():
                avg.mul_(d).add_(new, alpha=1.0 - d)  # avg <- d avg + (1 - d) new
            else:  # integer buffers (counters) are copied, not averaged
                avg.copy_(new)
        self.updates += 1

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates,
                "average": self.average.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay, self.updates = state["decay"], state["updates"]
        self.average.load_state_dict(state["average"])
