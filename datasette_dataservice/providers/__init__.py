"""Providers: one class per provider type x engine, behind the interface in ``base``."""
