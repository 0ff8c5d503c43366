"""Serving: one forward pass to queries, FAISS retrieval, the five methods and the Recommender API.

May import: engine.core, engine.data and the foundation modules.
"""
