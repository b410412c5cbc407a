"""Synthetic benchmark: mocap-driven pybullet humanoid diving and skiing, with exact labels.

``generate.generate`` is the entry point; ``tempose synth`` is its command line.
"""
