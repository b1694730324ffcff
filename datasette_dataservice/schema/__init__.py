"""Frictionless Table Schema: validation, canonical form and hash. Pure functions, no I/O."""
