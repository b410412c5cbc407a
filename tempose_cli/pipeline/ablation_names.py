"""What `tempose ablation` can run, in a module of its own: the command's options read
these at start-up, without importing numpy and the models (`tempose --help` stays fast)."""

TABLE_V = ("dsl", "dsl-stn", "dsl-stn-dec", "ae-stn-dec", "css-stn-dec-split", "ours",
           "ours-no-gravity")
BASELINES = ("mean", "random", "scratch")
FRACTIONS = (1.0, 0.2, 0.05)
# models.regressor.KINDS, named here so the CLI's options need not import torch.
REGRESSOR_NAMES = {"mlp": "MLP", "resmlp": "residual MLP", "knn": "k nearest labelled frames"}
REGRESSORS = tuple(REGRESSOR_NAMES)
# The fit on frozen features by default (tempose fit, ablation, demo): the k nearest
# labelled frames on each frame's features and those 2 frames before and after. Not the
# paper's MLP: on the standard benchmark, from the same features, it cut `ours`'
# N-MPJPE at fraction 0.2 by 30% (seed 14, where it was chosen) and 22% (seed 16, never
# tuned on), and the other variants' by 2-35% (seeds 14, 15; benchmarks/RESULTS.md).
# Encoders trained through the regressor (scratch, finetune) keep the MLP on the frame
# alone.
FIT_REGRESSOR, FIT_CONTEXT = "knn", 2
# ... and each clip read as a track of labelled frames (the pose change between frames
# weighed in, its weight chosen on validation; models.regressor.KNNRegressor.
# predict_track). On seeds 16 and 18 (never tuned on) it lowered `ours` by 4-13% at
# fractions 1 and 0.2 and by 0-7% at 0.05 (benchmarks/RESULTS.md).
FIT_TRACK = True
METRIC_NAMES = {"mpjpe": "MPJPE", "n_mpjpe": "N-MPJPE", "p_mpjpe": "P-MPJPE"}
