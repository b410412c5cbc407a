"""Athletes: a body size and an appearance (suit colours/pattern, skin tone, cap) each.

Appearance is fixed per athlete across all their clips: the time-invariant part of the
self-supervised latent is meant to capture exactly this. Two wardrobes for dives:
"swimsuit" (the standard set: mostly skin, the suit on the hips, 6 skin tones) and
"bodysuit" (suits that cover arms, thighs and shins in up to three colours, any skin
tone between the 6), for athletes told apart by more than a few pixels of suit.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np

from tempose_cli.synth.humanoid import LINK

SKIN_TONES = ((0.96, 0.80, 0.69), (0.89, 0.69, 0.55), (0.78, 0.57, 0.42), (0.62, 0.42, 0.29),
              (0.45, 0.30, 0.20), (0.33, 0.22, 0.15))
TRUNK = ("root", "chest")
THIGHS = ("right_hip", "left_hip")
SHINS = ("right_knee", "left_knee")
FEET = ("right_ankle", "left_ankle")
ARMS = ("right_shoulder", "left_shoulder", "right_elbow", "left_elbow")
HANDS = ("right_wrist", "left_wrist")


@dataclass(frozen=True)
class Athlete:
    id: str  # "A01"
    scale: float  # pybullet globalScaling (0.25 is the mocap body, about 1.7 m)
    suit: tuple[float, float, float]
    suit2: tuple[float, float, float]
    skin: tuple[float, float, float]
    cap: tuple[float, float, float]
    pattern: str  # "plain" | "two-tone" | "legs" (swimsuits) | "bodysuit"
    # "bodysuit": what each region wears: "suit", "suit2", "suit3" or "skin" (the trunk
    # wears the suit, hands and feet are skin).
    suit3: tuple[float, float, float] = (0.0, 0.0, 0.0)
    arms: str = "skin"
    thighs: str = "skin"
    shins: str = "skin"

    @property
    def height_m(self) -> float:
        return round(1.7 * self.scale / 0.25, 3)

    def link_colours(self, sport: str) -> dict[int, tuple[float, float, float, float]]:
        """RGBA per URDF link: swimsuit and cap for dives, race suit and helmet for skiing."""
        c: dict[str, tuple[float, float, float]] = {}
        if sport == "dive" and self.pattern == "bodysuit":
            wear = {"suit": self.suit, "suit2": self.suit2, "suit3": self.suit3,
                    "skin": self.skin}
            for names, region in ((ARMS, self.arms), (THIGHS, self.thighs),
                                  (SHINS, self.shins), (TRUNK, "suit"), (HANDS, "skin"),
                                  (FEET, "skin")):
                for name in names:
                    c[name] = wear[region]
            c["neck"] = self.cap
        elif sport == "dive":
            for name in (*ARMS, *HANDS, *THIGHS, *SHINS, *FEET):
                c[name] = self.skin
            c["root"] = self.suit
            c["chest"] = self.suit2 if self.pattern == "two-tone" else (
                self.suit if self.pattern == "legs" else self.skin)
            if self.pattern == "legs":
                c["right_hip"] = c["left_hip"] = self.suit
            c["neck"] = self.cap
        else:
            for name in (*TRUNK, *ARMS, *THIGHS, *SHINS):
                c[name] = self.suit
            if self.pattern != "plain":
                for name in (ARMS if self.pattern == "two-tone" else SHINS):
                    c[name] = self.suit2
            for name in (*HANDS, *FEET):
                c[name] = self.suit2
            c["neck"] = self.cap
        return {LINK[k]: (*v, 1.0) for k, v in c.items()}

    def record(self) -> dict:
        out = {"id": self.id, "scale": self.scale, "height_m": self.height_m,
               "suit_rgb": list(self.suit), "suit2_rgb": list(self.suit2),
               "skin_rgb": list(self.skin), "cap_rgb": list(self.cap), "pattern": self.pattern}
        if self.pattern == "bodysuit":
            out |= {"suit3_rgb": list(self.suit3), "arms": self.arms, "thighs": self.thighs,
                    "shins": self.shins}
        return out


APPEARANCES = ("swimsuit", "bodysuit")


def _rgb(h: float, s: float, v: float) -> tuple[float, float, float]:
    return tuple(round(c, 4) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def make_athletes(n: int, seed: int, appearance: str = "swimsuit") -> list[Athlete]:
    """n athletes with well-separated suit hues (golden-ratio spacing from a seeded start)."""
    if appearance == "bodysuit":
        return _bodysuit_athletes(n, seed)
    if appearance != "swimsuit":
        raise ValueError(f"unknown appearance {appearance!r} ({' or '.join(APPEARANCES)})")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA7]))
    hue0 = float(rng.random())
    out = []
    for k in range(n):
        hue = (hue0 + 0.618034 * k) % 1.0
        sat, val = float(rng.uniform(0.6, 0.95)), float(rng.uniform(0.55, 0.95))
        suit = _rgb(hue, sat, val)
        suit2 = _rgb(hue + 0.5, float(rng.uniform(0.3, 0.9)), float(rng.uniform(0.3, 0.95)))
        cap = _rgb(float(rng.random()), float(rng.uniform(0, 0.9)), float(rng.uniform(0.2, 1.0)))
        out.append(Athlete(
            id=f"A{k + 1:02d}",
            scale=round(float(rng.uniform(0.225, 0.27)), 4),
            suit=suit,
            suit2=suit2,
            skin=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
            cap=cap,
            pattern=("plain", "two-tone", "legs")[int(rng.integers(3))],
        ))
    return out


def _bodysuit_athletes(n: int, seed: int) -> list[Athlete]:
    """Body suits: the trunk in the athlete's hue, arms / thighs / shins each in one of
    the suit's colours or bare; a skin tone anywhere between the 6 swimsuit ones. The
    bodies are the swimsuit set's (same seed, same sizes), so are the dives: the two sets
    differ in clothes only."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xA7, 1]))  # its own stream
    hue0 = float(rng.random())
    tones = np.asarray(SKIN_TONES)
    out = []
    for k, body in enumerate(make_athletes(n, seed)):
        hue = hue0 + 0.618034 * k
        u = float(rng.uniform(0, len(SKIN_TONES) - 1))
        i = min(int(u), len(SKIN_TONES) - 2)
        skin = tones[i] + (u - i) * (tones[i + 1] - tones[i])
        out.append(Athlete(
            id=f"A{k + 1:02d}",
            scale=body.scale,
            suit=_rgb(hue, float(rng.uniform(0.6, 0.95)), float(rng.uniform(0.55, 0.95))),
            suit2=_rgb(hue + float(rng.uniform(0.25, 0.75)), float(rng.uniform(0.5, 0.95)),
                       float(rng.uniform(0.3, 0.95))),
            suit3=_rgb(float(rng.random()), float(rng.uniform(0, 0.9)),
                       float(rng.uniform(0.1, 1.0))),
            skin=tuple(round(float(v), 4) for v in skin),
            cap=_rgb(float(rng.random()), float(rng.uniform(0, 0.9)),
                     float(rng.uniform(0.2, 1.0))),
            pattern="bodysuit",
            arms=("skin", "suit", "suit2")[int(rng.integers(3))],
            thighs=("suit", "suit2", "suit3")[int(rng.integers(3))],
            shins=("skin", "suit2", "suit3")[int(rng.integers(3))],
        ))
    return out
