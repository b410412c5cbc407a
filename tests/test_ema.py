"""models/ema.py: the exponential moving average of a module's weights."""

import pytest
import torch
from torch import nn

from models.ema import WeightAverage


def test_the_average_follows_the_warmed_up_decay() -> None:
    net = nn.Linear(2, 1)
    net.register_buffer("count", torch.tensor(0))
    with torch.no_grad():
        net.weight.fill_(0.0)
    ema = WeightAverage(net, decay=0.5)
    expected = 0.0
    for step, value in enumerate([1.0, 2.0, 3.0, 4.0]):
        with torch.no_grad():
            net.weight.fill_(value)
        net.count += 1
        d = min(0.5, (1 + step) / (10 + step))  # 0.1, 0.18, 0.25, 0.31: the warm-up
        expected = d * expected + (1 - d) * value
        ema.update(net)
    assert torch.allclose(ema.average.weight, torch.full((1, 2), expected))
    assert int(ema.average.count) == 4  # integer buffers are copied
    assert not ema.average.weight.requires_grad


def test_state_round_trip_and_bad_decay() -> None:
    net = nn.Linear(3, 2)
    ema = WeightAverage(net, 0.99)
    ema.update(net)
    other = WeightAverage(nn.Linear(3, 2), 0.5)
    other.load_state_dict(ema.state_dict())
    assert (other.decay, other.updates) == (0.99, 1)
    assert torch.equal(other.average.weight, ema.average.weight)
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="decay"):
            WeightAverage(net, bad)
