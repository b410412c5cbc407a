"""A bystander: a second person warming up on the diver's platform, behind the diver.

Competition footage often holds another person (the next diver, a coach) who moves
but does not fall. The median background does not absorb someone who moves, so the
frame holds two foregrounds of a body's size and only the diver's centre follows the
gravity parabola: the case the paper's gravity prior (Sec. III-D) is for. The standard
benchmark has no bystander; ``SynthConfig.bystander`` adds one to every dive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from tempose_cli.synth import quat
from tempose_cli.synth.athletes import Athlete, make_athletes
from tempose_cli.synth.humanoid import Humanoid, pybullet
from tempose_cli.synth.mocap import MOCAP_SCALE, load_clip
from tempose_cli.synth.motion import Q_UP, BodyTrack, Segment, evaluate, place_by_base

# In-place mocap motions (a warm-up on the platform); their root moves up to ~1 m.
MOTIONS = ("dance_a", "dance_b", "kick", "punch")
# Where on the platform (x in [-5, 0], y in [-1.5, 1.5], top at the dive height) the
# motion's mean root stands: behind the diver (the camera looks along +y) and back from
# the edge, where the dive's camera (framed on the diver alone) still sees them.
ANCHOR_X, ANCHOR_Y = (-1.9, -1.1), (0.4, 1.0)
BYSTANDER_SEED = 0xB7  # appended to the clip's seed: the dive's own draws stay the same


@dataclass
class Bystander:
    person: Athlete
    body: Humanoid
    track: BodyTrack  # world placement of every video frame
    record: dict  # what the sidecar says about them


def bystander_person(rng: np.random.Generator) -> Athlete:
    """An appearance drawn like an athlete's, from the clip's own bystander generator."""
    person = make_athletes(1, int(rng.integers(2**31)))[0]
    return replace(person, id="bystander")


def make_bystander(client: int, times: np.ndarray, height_m: float,
                   rng: np.random.Generator) -> Bystander:
    """A person on the platform doing one mocap motion over video ``times`` (T,) seconds."""
    person = bystander_person(rng)
    body = Humanoid(client, person.scale, person.link_colours("dive"))
    name = MOTIONS[int(rng.integers(len(MOTIONS)))]
    clip = load_clip(name)
    span = float(times[-1] - times[0])
    rate = min(1.0, clip.duration / max(span, 1e-6))  # slowed, never looped (no jumps)
    start = float(rng.uniform(0.0, clip.duration - rate * span))
    seg = Segment(name, (start, start + rate * span), (float(times[0]), float(times[-1])))
    pose = seg.sample(times)
    track = evaluate(body, pose)
    yaw = quat.from_axis_angle([0.0, 0.0, 1.0], float(rng.uniform(-np.pi, np.pi)))
    face = quat.multiply(yaw, Q_UP)
    Rf = quat.to_matrix(face)
    base = (pose.root_pos * (person.scale / MOCAP_SCALE)) @ Rf.T  # (T, 3), feet on z = 0
    anchor = np.array([rng.uniform(*ANCHOR_X), rng.uniform(*ANCHOR_Y), height_m])
    base[:, :2] -= base[:, :2].mean(0)
    base += anchor
    place_by_base(track, quat.multiply(face, pose.root_rot), base)
    record = {"person": person.record(), "motion": seg.provenance(),
              "anchor_m": [round(float(v), 4) for v in anchor]}
    return Bystander(person, body, track, record)


def replay_bystander(sidecar: dict, n_frames: int) -> Bystander | None:
    """The bystander of a generated dive (its sidecar), rebuilt from the clip's seed:
    benchmarks ask where they were without the sidecar carrying their every frame."""
    synth = (sidecar or {}).get("synth") or {}
    if "bystander" not in synth:
        return None
    p = pybullet()
    client = p.connect(p.DIRECT)
    try:
        rng = np.random.default_rng(np.random.SeedSequence([*synth["clip_seed"], BYSTANDER_SEED]))
        times = np.arange(n_frames) / float(sidecar["fps"])
        return make_bystander(client, times, float(sidecar["height_m"]), rng)
    finally:
        p.disconnect(client)
