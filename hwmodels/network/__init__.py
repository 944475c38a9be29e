"""Network models: topologies, collectives, expert-parallel traffic, contention."""
