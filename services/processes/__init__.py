"""Serving from several processes: `--processes N|auto`, the worker processes that
share one port, and the parent that supervises them."""
