"""Prometheus metrics: gRPC server, campaign catalog, profile store, and their HTTP endpoint."""
