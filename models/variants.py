"""The variant registry: which parts of the method are on (the paper's Table V).

Every variant shares the same networks; a variant only switches parts on or off:

- ``stn``: the detector crops the athlete (off: the whole frame is the crop).
- ``decoder``: reconstruction of the frame over the background (off: no recon loss).
- ``split``: z = (z_tv, z_ti) with z_ti taken from another frame of the same clip and
  the contrastive term on z_tv only (off: z = [z_tv, z_ti] of the same frame, the
  contrastive term on all of it, and it is the feature used downstream).
- ``contrastive``: "dsl" (distance-based), "css" (InfoNCE), "triplet" (TCN) or None.
- ``gravity``: dives only: stage-1 pre-training of the detector with the gravity prior.
  Every STN variant of the table keeps it, so each differs from ``ours`` in the part
  its name drops; ``ours-no-gravity`` is the ablation of the prior itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variant:
    name: str
    stn: bool
    decoder: bool
    split: bool
    contrastive: str | None
    gravity: bool

    def describe(self) -> str:
        parts = [self.contrastive or "no contrastive term"]
        parts += [p for p, on in (("stn", self.stn), ("decoder", self.decoder),
                                  ("split", self.split), ("gravity", self.gravity)) if on]
        return ", ".join(parts)


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("dsl", stn=False, decoder=False, split=False, contrastive="dsl", gravity=False),
        Variant("dsl-stn", stn=True, decoder=False, split=False, contrastive="dsl", gravity=True),
        Variant("dsl-stn-dec", stn=True, decoder=True, split=False, contrastive="dsl",
                gravity=True),
        Variant("ae-stn-dec", stn=True, decoder=True, split=False, contrastive=None,
                gravity=True),
        Variant("css-stn-dec-split", stn=True, decoder=True, split=True, contrastive="css",
                gravity=True),
        Variant("triplet-stn-dec-split", stn=True, decoder=True, split=True,
                contrastive="triplet", gravity=True),
        Variant("ours", stn=True, decoder=True, split=True, contrastive="dsl", gravity=True),
        Variant("ours-no-gravity", stn=True, decoder=True, split=True, contrastive="dsl",
                gravity=False),
    )
}


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}") from None
