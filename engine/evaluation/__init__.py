"""Evaluation: next-item ranking, myopia curves, instruction following, baselines and beyond-accuracy metrics.

May import: engine.serving, engine.core, engine.data and the foundation modules.
"""
