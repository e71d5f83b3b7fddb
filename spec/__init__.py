"""Named invariants over a kernel state (pure)."""
