"""What `tempose ablation` can run, in a module of its own: the command's options read
these at start-up, without importing numpy and the models (`tempose --help` stays fast)."""

TABLE_V = ("dsl", "dsl-stn", "dsl-stn-dec", "ae-stn-dec", "css-stn-dec-split", "ours",
           "ours-no-gravity")
BASELINES = ("mean", "random", "scratch")
FRACTIONS = (1.0, 0.2, 0.05)
METRIC_NAMES = {"mpjpe": "MPJPE", "n_mpjpe": "N-MPJPE", "p_mpjpe": "P-MPJPE"}
