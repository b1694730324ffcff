"""Which provider class serves a (provider_type, engine) pair, as registered through pluggy."""

from __future__ import annotations

from datasette.plugins import pm

from .base import Provider

KNOWN_PROVIDER_TYPES = ("flat_table", "jsonb", "mongodb")


def provider_classes(datasette) -> dict[tuple[str, str], type[Provider]]:
    classes: dict[tuple[str, str], type[Provider]] = {}
    for registered in pm.hook.register_dataservice_providers(datasette=datasette):
        for cls in registered or ():
            classes[(cls.provider_type, cls.engine)] = cls
    return classes
