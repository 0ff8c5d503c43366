"""Training: losses, the epoch loop, data parallelism and the rebuild of the shipped checkpoints.

May import: engine.evaluation (validation), engine.serving, engine.core, engine.data and the foundation modules.
"""
