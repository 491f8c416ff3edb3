"""Pure survival and proportion statistics (no registry knowledge)."""
