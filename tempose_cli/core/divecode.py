"""FINA dive codes: group, half somersaults, half twists, position (the one parser;
``tempose synth`` makes dives from them, the analysis reads the expected rotation)."""

from __future__ import annotations

from dataclasses import dataclass

POSITIONS = {"A": "straight", "B": "pike", "C": "tuck", "D": "free"}
# group -> (name, facing the water?, forward rotation?)
GROUPS = {1: ("forward", True, True), 2: ("back", False, False),
          3: ("reverse", True, False), 4: ("inward", False, True)}
# Half-turns per second a diver can sustain in each position (limits what is feasible).
RATE = {"A": 2.5, "B": 4.0, "C": 5.0, "D": 3.0}


@dataclass(frozen=True)
class DiveCode:
    code: str
    group: int  # 1-4: forward, back, reverse, inward
    half_somersaults: int
    half_twists: int
    position: str  # A-D

    @classmethod
    def parse(cls, code: str) -> DiveCode:
        c = code.strip().upper()
        if len(c) == 4 and c[:3].isdigit() and c[3] in POSITIONS and c[0] in "1234":
            return cls(c, int(c[0]), int(c[2]), 0, c[3])
        if len(c) == 5 and c[:4].isdigit() and c[0] == "5" and c[1] in "1234" and c[4] in POSITIONS:
            return cls(c, int(c[1]), int(c[2]), int(c[3]), c[4])
        raise ValueError(f"unsupported dive code {code!r} (groups 1-5, positions A-D)")

    @property
    def facing_water(self) -> bool:
        return GROUPS[self.group][1]

    @property
    def rotation_sign(self) -> float:
        """Sign of the somersault about world +y (positive: head towards +x)."""
        _, facing, forward = GROUPS[self.group]
        return (1.0 if forward else -1.0) * (1.0 if facing else -1.0)

    def feasible(self, flight_s: float) -> bool:
        budget = 0.8 * (flight_s - 0.35)  # the take-off extension and entry take the rest
        return (self.half_somersaults / RATE[self.position] + 0.25 * self.half_twists) <= budget
