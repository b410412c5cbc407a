"""Features of a trained run for every frame of catalogued clips, and latent transfer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from store.catalogue import list_clips
from store.files import write_atomic
from store.schema import Export, Run
from tempose_cli.core.errors import NotFoundError, TemposeError
from tempose_cli.core.records import require_clip
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.dataset import FrameStore, features_path, load_clips
from tempose_cli.learn.features import encode_clip, load_model
from tempose_cli.media.visualise import save_png, to_image


def get_train_run(session: Session, run_id: int) -> Run:
    run = session.get(Run, run_id)
    if run is None or run.kind != "train":
        raise NotFoundError(f"no training run {run_id} (see: tempose runs list)")
    return run


def extract(sessions: sessionmaker[Session], ws: Workspace, run_id: int,
            clip_ids: list[int] | None, device: torch.device,
            progress: Callable[[int, int, str], None] | None = None) -> list[tuple[int, str]]:
    """Write z_tv, z_ti, the box track and the regressor's features for every frame."""
    with sessions.begin() as s:
        run = get_train_run(s, run_id)
        model, cfg = load_model(ws, run, device)
        run_dir = ws.abs(run.directory)
        if clip_ids:
            rows = []
            for cid in clip_ids:
                clip = require_clip(s, cid)
                rows.append(clip)
        else:
            rows = list(list_clips(s))
        if not rows:
            raise TemposeError("no clips in the catalogue (ingest some: tempose ingest PATH)")
        clips = load_clips(ws, rows)
    written = []
    for ci, clip in enumerate(clips):
        store = FrameStore([clip])
        arrays = encode_clip(model, store, 0, device)
        path = features_path(run_dir, clip.content_hash)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, lambda f, a=arrays: np.savez(f, **a))
        with sessions.begin() as s:  # one transaction per clip: a rerun replaces the record
            s.execute(delete(Export).where(Export.run_id == run_id, Export.kind == "features",
                                           Export.clip_id == clip.clip_id))
            s.add(Export(clip_id=clip.clip_id, run_id=run_id, kind="features",
                         path=ws.rel(path), params={"frames": len(clip),
                                                    "dims": list(arrays["features"].shape)}))
        written.append((clip.clip_id, str(path)))
        if progress:
            progress(ci + 1, len(clips), str(path))
    return written


def parse_frame_ref(text: str) -> tuple[int, int]:
    """``CLIP:FRAME`` -> (clip id, frame index)."""
    try:
        clip, frame = text.split(":")
        return int(clip), int(frame)
    except ValueError:
        raise TemposeError(f"frame reference {text!r}: expected CLIP:FRAME, e.g. 3:40") from None


@torch.no_grad()
def transfer(sessions: sessionmaker[Session], ws: Workspace, run_id: int, a: str, b: str,
             out: Path, device: torch.device) -> Path:
    """Decode z_tv of A with z_ti of B and the reverse (the paper's Fig. 5) into a PNG grid.

    Rows: A, B. Columns: the crop, decoded with its own z_ti, decoded with the other's z_ti.
    """
    refs = [parse_frame_ref(a), parse_frame_ref(b)]
    with sessions.begin() as s:
        run = get_train_run(s, run_id)
        model, cfg = load_model(ws, run, device)
        rows = []
        for cid, t in refs:
            clip = require_clip(s, cid)
            if not 0 <= t < clip.frame_count:
                raise TemposeError(f"clip {cid} has frames 0..{clip.frame_count - 1}, not {t}")
            rows.append(clip)
        clips = load_clips(ws, rows)
    if not model.variant.decoder:
        raise TemposeError(f"run {run_id} ({model.variant.name}) has no decoder to transfer with")
    store = FrameStore(clips)
    at = [0, 1], [refs[0][1], refs[1][1]]
    frames, background, noise = store.inputs(*at, device)
    box, z_tv, z_ti = model.encode(frames, background, noise)
    crops = model.crops(frames, box)
    own, _ = model.decoder(z_tv, z_ti)
    swapped, _ = model.decoder(z_tv, z_ti.flip(0))
    size = 128
    cells = [[to_image(crops[i], size), to_image(own[i], size), to_image(swapped[i], size)]
             for i in range(2)]
    grid = np.concatenate([np.concatenate(r, 1) for r in cells], 0)
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_png(out, grid)
