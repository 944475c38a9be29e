"""Mixture-of-experts FFNs: graph block, routing and dispatch/combine references."""
