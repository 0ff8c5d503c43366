"""Data: every source converted into one :class:`~engine.data.schema.Dataset` shape.

- ``schema``: column names and the ``Dataset`` container (the shared contract).
- ``io``: ``load_dataset`` / ``save_dataset`` for a prepared folder (parquet + meta.json + card).
- ``lastfm`` (+ ``hetrec``, ``labels``): the real HetRec Last.fm-2k set → ``prepare_lastfm``.
- ``s3rec``: S3-Rec benchmark files (Amazon, LastFM) → ``prepare_s3rec``.
- ``generic``: your own interactions + items CSV/parquet → ``prepare_generic``.
- ``synthetic``: seeded logs with consumption lag → ``prepare_synthetic`` (committed sample).
- ``validate``, ``card``, ``paths``: checked reading, data cards, where data lives.
- ``split``: user sequences, the day-boundary split and its held-out pairs (numpy/pandas).
- ``label_check``: agreement of the labels with a hand-checked fixture.

May import: the foundation modules (errors, paths, tables, atomic) only; never torch.
"""
