#!/usr/bin/env bash
# A walk-through of tempose, step by step, on generated dives (what `tempose demo`
# does in one go). Run from the repository root after `make demo` or `make test`
# installed .venv:   bash examples/walkthrough.sh
# Every step writes into the workspace below and is recorded in its catalogue;
# `tempose --home $HOME_DIR clips list` / `runs list` show where things stand.
set -euo pipefail
T=".venv/bin/tempose --home ${HOME_DIR:-walkthrough-home}"

# 1. Clips: 4 athletes x 3 dives, 256 px, with exact 3D/2D labels (<stem>.pose.csv)
#    and a sidecar (<stem>.json: sport, athlete, dive code, fps, camera K/R/t).
#    Your own recordings need only the .mp4; see examples/sidecar.json for the sidecar.
$T synth walkthrough-clips --sport dive --athletes 4 --dives 3 --size 256x256 --seed 0

# 2. Catalogue them: decode once into the frame cache, estimate each background.
$T ingest walkthrough-clips

# 3. Self-supervised training (no labels used): 600 gravity steps, then 300 DSL steps.
#    Look at runs/<id>-ours/images/*.png: the box should sit on the diver.
$T train --variant ours --profile cpu --steps 900 --stage1-steps 600

# 4. Features of every frame (z_tv, z_ti, box) from the run just trained (id 1 in a
#    fresh workspace; `tempose runs list` gives the id).
$T extract --run 1

# 5. A 3D pose regressor from a few labelled frames: athletes of the test set are never
#    seen (diver-split); every 20th labelled frame of the training clips (5%).
$T fit --run 1 --split diver --fraction 0.05
$T fit --run 1 --split dive --fraction 0.2

# 6. Scores side by side, and what z_tv / z_ti encode.
$T runs compare --metric n_mpjpe
$T probe --run 1

# 7. For the coach: one dive (a clip id from `tempose clips list`) into CSV, TRC, MOT,
#    JSON, overlay MP4 and plots under exports/; then a batch without video.
$T analyze --dive 12 --smooth 6
$T export --dives 10-11 --no-video
