#!/usr/bin/env bash
# The GPU check: the paper profile trained through torchrun (DDP, NCCL on a GPU), then
# extract, fits and the throughput benchmarks on the same device, each stage logged to
# its own file so one failing stage does not hide the others.
#
# Run:  benchmarks/gpu_check.sh DIVES_DIR OUT [STEPS] [DEVICE] [PROFILE]
#   DIVES_DIR  generated dives (tempose synth DIR --athletes 4 --dives 2)
#   OUT        folder for check.log, the run's losses.csv and its last image grid
#   STEPS      paper-profile training steps (default 300; a fifth of them gravity)
#   DEVICE     cuda (default) | cpu (a dry run of this script on a machine without one)
#   PROFILE    the profile trained through torchrun: paper (default) | cpu (dry runs)
# Figures go to benchmarks/RESULTS.md ("GPU check").
set -u
DIVES=$1; OUT=$2; STEPS=${3:-300}; DEV=${4:-cuda}; PROFILE=${5:-paper}
H=$(mktemp -d)/home
T=(python3 -m tempose_cli --home "$H")
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 COLUMNS=200

# One log for every stage (the device tool brings back few files): OUT/check.log.
LOG=$OUT/check.log
stage() {  # stage NAME SECONDS CMD...: run under a time limit, log, report time and status
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "=== $name: $*" >>"$LOG"
  timeout "$limit" "$@" >>"$LOG" 2>&1
  local rc=$?
  echo "=== $name: exit $rc in $((SECONDS - t0)) s" | tee -a "$LOG"
  return $rc
}

{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda,
    torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
  echo "cpus: $(nproc)"; } >"$LOG" 2>&1

stage ingest 60 "${T[@]}" ingest "$DIVES" || exit 1
stage paper_train 200 python3 -m torch.distributed.run --nproc-per-node 1 --master-port 29611 \
  -m tempose_cli --home "$H" train --profile "$PROFILE" --steps "$STEPS" \
  --stage1-steps $((STEPS / 5)) --probe-every $((STEPS / 3)) --device "$DEV"
cp "$H"/runs/0001-*/losses.csv "$OUT/paper_losses.csv" 2>/dev/null
last=$(ls "$H"/runs/0001-*/images/*.png 2>/dev/null | sort | tail -n 1)
[ -n "$last" ] && cp "$last" "$OUT/paper_grid.png"
stage step_paper 90 python3 benchmarks/train_step.py --home "$H" --device "$DEV" \
  --profile "$PROFILE" --steps 10
stage step_cpu_profile 90 python3 benchmarks/train_step.py --home "$H" --device "$DEV" \
  --profile cpu --steps 10
stage step_cpu_profile_on_cpu 60 python3 benchmarks/train_step.py --home "$H" \
  --device cpu --profile cpu --steps 5
stage paper_extract 60 "${T[@]}" extract --run 1 --device "$DEV"
stage paper_fit 90 "${T[@]}" fit --run 1 --split diver --fraction 1 --device "$DEV"
stage scratch_fit 90 "${T[@]}" fit --run 1 --baseline scratch --split diver --fraction 1 \
  --steps 100 --device "$DEV"
stage throughput 150 python3 benchmarks/throughput.py --home "$H" --device "$DEV" \
  --steps 10 --repeats 2
exit 0
