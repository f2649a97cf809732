"""Build-time tools of a source checkout (not installed with aimem)."""
