"""Lambda entry points: one module per function, each a thin adapter over the domain."""
