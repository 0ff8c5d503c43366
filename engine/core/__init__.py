"""The model layer: config, masks, network, conditions, instructions, catalogue, checkpoints, device.

May import: engine.data and the foundation modules (errors, paths, tables, atomic).
"""
