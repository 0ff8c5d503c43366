"""Benchmarks and experiments: latency, training throughput, quality against published tables, reports.

May import: every layer below (training, evaluation, serving, core, data, foundation); never engine.cli.
"""
