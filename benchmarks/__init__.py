"""Benchmarks of Track My Service: ``python -m benchmarks.run`` (``make bench``)."""
