"""Importers: labels from a multi-camera session (Pose2Sim calibration TOML and OpenSim
TRC) and from 2D keypoint detectors (OpenPose-style JSON), into ``<stem>.pose.csv``."""
