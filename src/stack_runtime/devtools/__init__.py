"""The author's tools: ``dev``, ``invoke``, ``init`` and the local stack of the test helpers."""
