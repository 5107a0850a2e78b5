"""Pure analysis on scenarios and result tables (no state, no RNG)."""
