"""What `tempose ablation` can run, in a module of its own: the command's options read
these at start-up, without importing numpy and the models (`tempose --help` stays fast)."""

TABLE_V = ("dsl", "dsl-stn", "dsl-stn-dec", "ae-stn-dec", "css-stn-dec-split", "ours",
           "ours-no-gravity")
BASELINES = ("mean", "random", "scratch")
FRACTIONS = (1.0, 0.2, 0.05)
# models.regressor.KINDS, named here so the CLI's options need not import torch.
REGRESSOR_NAMES = {"mlp": "MLP", "resmlp": "residual MLP", "knn": "k nearest labelled frames"}
REGRESSORS = tuple(REGRESSOR_NAMES)
METRIC_NAMES = {"mpjpe": "MPJPE", "n_mpjpe": "N-MPJPE", "p_mpjpe": "P-MPJPE"}
