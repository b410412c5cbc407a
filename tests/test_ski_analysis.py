"""The ski summary (``pose/ski_analysis.py``) against ``tempose synth --sport ski``
ground truth, and ``tempose analyze --run`` of a ski clip end to end (CPU, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tempose_cli.cli.app import app
from tempose_cli.core.labels import read_pose_csv
from tempose_cli.pose.ski_analysis import analyze_ski

from .conftest import add_train_run, ok, tempose

pytestmark = pytest.mark.usefixtures("one_thread")
CPU = ["--device", "cpu"]
FPS = 20.0


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    from tempose_cli.synth.generate import SynthConfig, generate

    root = tmp_path_factory.mktemp("ski")
    generate(SynthConfig(out_dir=root / "clips", sport="ski", athletes=2, clips=1, fps=FPS,
                         size=(96, 96), seed=3))
    return root


def _truth(js: Path):  # noqa: ANN202
    side = json.loads(js.read_text())
    return side, read_pose_csv(js.with_name(js.name.replace(".json", ".pose.csv")))


def test_summary_from_labels_recovers_the_generated_run(runs) -> None:
    for js in sorted((runs / "clips").glob("*.json")):
        side, track = _truth(js)
        cam, gt = side["camera"], side["synth"]["run"]
        a = analyze_ski(track, FPS, K=np.array(cam["K"]), R=np.array(cam["R_per_frame"]))
        s = a.summary
        assert s["sport"] == "ski" and set(s["definitions"]) >= {
            "knee_flexion_deg", "turns", "jumps", "cg_height_above_lower_ankle_m"}
        for leg in ("l", "r"):  # the humanoid's own knee angles, not the joint positions
            lo, hi = gt["knee_flexion_deg"][leg]
            got = s["knee_flexion_deg"][leg]
            assert abs(got["min"] - lo) < 5 and abs(got["max"] - hi) < 5
            assert abs(got["range"] - (hi - lo)) < 5
        # Turns: every apex the weave put 0.4 s or more inside the run is found, with
        # its direction; nothing else is.
        inner = [x for x in gt["turns"] if 0.4 <= x["time_s"] <= gt["duration_s"] - 0.4]
        found = s["turns"]["apexes"]
        assert len(inner) >= 1 and s["turns"]["count"] == len(found)
        for x in found:
            near = [g for g in gt["turns"] if abs(g["time_s"] - x["time_s"]) < 0.25]
            assert near and near[0]["direction"] == x["direction"], (x, gt["turns"])
        for g in inner:
            assert any(abs(g["time_s"] - x["time_s"]) < 0.25 for x in found), (g, found)
        assert s["turns"]["left"] + s["turns"]["right"] == len(found)
        # The generator's one jump segment: one flight, inside it, at about g.
        jumps = [m["video_t"] for m in side["synth"]["mocap"] if "jump" in m["file"]]
        assert s["jumps"]["count"] == len(jumps) == 1
        seg = s["jumps"]["segments"][0]
        assert jumps[0][0] - 0.1 <= seg["start_frame"] / FPS < seg["end_frame"] / FPS \
            <= jumps[0][1] + 0.1
        assert 0.3 < seg["airtime_s"] < 1.0 and abs(seg["g_fit_mps2"] - 9.81) < 2.5
        assert 0.3 < s["cg_height_above_lower_ankle_m"]["mean"] < 1.2
        assert 0 <= s["upper_body_inclination_deg"]["min"] < 90


def test_analyze_a_ski_run_end_to_end(runs) -> None:
    home = runs / "home"
    res = CliRunner().invoke(app, ["--home", str(home), "ingest", str(runs / "clips")])
    assert res.exit_code == 0, res.output
    run, _ = add_train_run(home, "0001-ours")
    ok(home, "extract", "--run", run, *CPU)
    ok(home, "fit", "--run", run, "--split", "diver", "--sport", "ski", "--steps", "5",
       "--hidden", "32", *CPU)
    clips = ok(home, "clips", "list")
    clip = min(c["id"] for c in clips if c["sport"] == "ski")
    res = ok(home, "analyze", "--run", clip, "--no-video", *CPU)
    assert res["sport"] == "ski" and res["summary"]["sport"] == "ski"
    files = {k: Path(v) for k, v in res["files"].items()}
    assert "turns_png" in files and "rotation_png" not in files
    assert all(p.exists() for p in files.values())
    text = files["json"].read_text()
    rec = json.loads(text)
    assert rec["sport"] == "ski" and "dive_code" not in rec
    assert "knee_flexion_deg" in rec["summary"] and "definitions" in rec["summary"]
    for word in ("somersault", "entry"):
        assert word not in text.lower()
        assert word not in files["mot"].read_text().lower()
    log = files["log"].read_text()
    assert f"--run {clip}" in log or f"--dive {clip}" in log
    shown = tempose(home, "analyze", "--run", clip, "--no-video", *CPU, json_out=False)
    assert shown.exit_code == 0, shown.output
    assert "ski summary" in shown.output and "somersault" not in shown.output.lower()
