"""The plugin's configuration block (DESIGN §8), read once at startup."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLUGIN_NAME = "datasette-dataservice"
CATALOG_DATABASE = "_dataservice"
DEFAULT_DATA_DIR = "dataservice-data"

KNOWN_KEYS = {
    "catalog",
    "data_dir",
    "postgres",
    "rate_limits",
    "tenancy",
    "max_body_bytes",
    "max_rows_per_request",
    "max_fields",
    "max_name_length",
    "max_json_depth",
}


@dataclass(frozen=True)
class RateLimits:
    """Per actor (anonymous: per client address), in the ``limits`` library's notation."""

    enabled: bool = True
    default: str = "100/minute"  # the seed: 100 requests a minute
    write: str = "10/second"  # the seed: write bursts of at most 10
    storage: str = "memory://"  # or redis://host:port/db
    actions: dict[str, str] = field(default_factory=dict)  # action name -> limit
    actors: dict[str, dict[str, str]] = field(default_factory=dict)  # actor id -> its limits
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client

    @classmethod
    def from_raw(cls, raw: Any) -> RateLimits:
        """``-s plugins.datasette-dataservice.rate_limits.enabled false`` passes strings."""
        if raw is None or isinstance(raw, bool | str):
            return cls(enabled=_flag("rate_limits", True if raw is None else raw))
        if not isinstance(raw, dict):
            raise ValueError("rate_limits must be a mapping (or false to turn them off)")
        known = {"enabled", "default", "write", "storage", "actions", "actors", "trusted_proxies"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"Unknown rate_limits key(s): {', '.join(sorted(unknown))}")
        proxies = raw.get("trusted_proxies") or ()
        return cls(
            **{
                **raw,
                "enabled": _flag("rate_limits.enabled", raw.get("enabled", True)),
                "trusted_proxies": tuple([proxies] if isinstance(proxies, str) else proxies),
            }
        )


def _flag(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise ValueError(f'{key} must be true or false; got "{value}"')


@dataclass(frozen=True)
class Tenancy:
    """Which tenant a request belongs to, from its Host header."""

    mode: str = "off"  # off | subdomain | hosts
    base_domain: str | None = None  # subdomain: {tenant}.{base_domain}
    hosts: dict[str, str] = field(default_factory=dict)  # hosts: host -> tenant

    @classmethod
    def from_raw(cls, raw: Any) -> Tenancy:
        if not raw:
            return cls()
        if not isinstance(raw, dict) or set(raw) - {"mode", "base_domain", "hosts"}:
            raise ValueError("tenancy takes mode (off, subdomain, hosts), base_domain and hosts")
        tenancy = cls(**raw)
        if tenancy.mode not in ("off", "subdomain", "hosts"):
            raise ValueError("tenancy.mode must be off, subdomain or hosts")
        if tenancy.mode == "subdomain" and not tenancy.base_domain:
            raise ValueError("tenancy.mode subdomain needs tenancy.base_domain")
        if tenancy.mode == "hosts" and not tenancy.hosts:
            raise ValueError("tenancy.mode hosts needs tenancy.hosts: {host: tenant}")
        return tenancy


@dataclass(frozen=True)
class PostgresConnection:
    """A named PostgreSQL connection (DESIGN §8). The DSN is a secret: it never appears in a
    repr, an API response, the catalog or a log line."""

    name: str
    dsn: str = field(repr=False)
    schema_prefix: str = ""  # prepended to every datasource's schema name
    max_size: int = 10  # connections in the pool

    @classmethod
    def from_raw(cls, name: str, raw: Any, environ: dict[str, str]) -> PostgresConnection:
        if not isinstance(raw, dict):
            raise ValueError(f"postgres.{name} must be a mapping with dsn or dsn_env")
        known = {"dsn", "dsn_env", "schema_prefix", "max_size"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(
                f"Unknown postgres.{name} key(s): {', '.join(sorted(unknown))}; "
                f"known keys are {', '.join(sorted(known))}"
            )
        if ("dsn" in raw) == ("dsn_env" in raw):
            raise ValueError(f"postgres.{name} needs exactly one of dsn or dsn_env")
        if "dsn_env" in raw:
            dsn = environ.get(raw["dsn_env"])
            if not dsn:
                raise ValueError(
                    f"postgres.{name}.dsn_env names {raw['dsn_env']}, which is not set"
                )
        else:
            dsn = str(raw["dsn"])
        return cls(
            name=name,
            dsn=dsn,
            schema_prefix=str(raw.get("schema_prefix") or ""),
            max_size=int(raw.get("max_size", cls.max_size)),
        )


def _postgres(raw: Any) -> dict[str, PostgresConnection]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("postgres must map connection names to {dsn: ...} or {dsn_env: ...}")
    return {
        str(name): PostgresConnection.from_raw(str(name), value, dict(os.environ))
        for name, value in raw.items()
    }


def _absolute(path: Path) -> Path:
    """``path`` made absolute against the working directory of now (not resolved later:
    that directory may be gone by then); left relative if it is gone already."""
    try:
        return Path(os.path.abspath(path))
    except FileNotFoundError:  # os.getcwd() of a deleted directory
        return path


@dataclass(frozen=True)
class CatalogConfig:
    """Where the catalog lives: a SQLite file in ``data_dir`` (the default), or a schema of a
    configured PostgreSQL connection, shared by every node that names it."""

    engine: str = "sqlite"  # sqlite | postgres
    connection: str | None = None  # postgres: the name of a configured connection
    schema: str | None = None  # postgres: default "{schema_prefix}dataservice_catalog"

    @property
    def shared(self) -> bool:
        return self.engine == "postgres"

    @classmethod
    def from_raw(cls, raw: Any, postgres: dict[str, PostgresConnection]) -> CatalogConfig:
        if raw is None:
            return cls()
        if not isinstance(raw, dict) or set(raw) - {"engine", "connection", "schema"}:
            raise ValueError("catalog takes engine (sqlite or postgres), connection and schema")
        engine = raw.get("engine", "sqlite")
        if engine == "sqlite":
            if set(raw) - {"engine"}:
                raise ValueError("catalog.connection and catalog.schema need engine: postgres")
            return cls()
        if engine != "postgres":
            raise ValueError(f'catalog.engine must be sqlite or postgres; got "{engine}"')
        connection = raw.get("connection")
        if connection is None and len(postgres) == 1:
            connection = next(iter(postgres))
        if connection not in postgres:
            raise ValueError(
                "catalog.connection must name a configured PostgreSQL connection "
                f"(plugins.{PLUGIN_NAME}.postgres): {', '.join(postgres) or 'none is configured'}"
            )
        schema = raw.get("schema") or f"{postgres[connection].schema_prefix}dataservice_catalog"
        return cls(engine="postgres", connection=str(connection), schema=str(schema))


@dataclass(frozen=True)
class DataServiceConfig:
    data_dir: Path
    max_body_bytes: int = 10 * 1024 * 1024
    max_rows_per_request: int = 10_000
    max_fields: int = 500  # per Table Schema (SQLite allows 2,000 columns)
    max_name_length: int = 128  # of a field name
    max_json_depth: int = 32  # nesting of a request body
    rate_limits: RateLimits = field(default_factory=RateLimits)
    tenancy: Tenancy = field(default_factory=Tenancy)
    postgres: dict[str, PostgresConnection] = field(default_factory=dict)
    catalog: CatalogConfig = field(default_factory=CatalogConfig)

    @property
    def catalog_path(self) -> Path:
        return self.data_dir / "catalog.db"

    @classmethod
    def from_plugin_config(cls, raw: dict[str, Any] | None) -> DataServiceConfig:
        raw = raw or {}
        unknown = set(raw) - KNOWN_KEYS
        if unknown:
            raise ValueError(
                f"Unknown {PLUGIN_NAME} setting(s): {', '.join(sorted(unknown))}; "
                f"known settings are {', '.join(sorted(KNOWN_KEYS))}"
            )
        postgres = _postgres(raw.get("postgres"))
        return cls(
            data_dir=_absolute(Path(raw.get("data_dir") or DEFAULT_DATA_DIR).expanduser()),
            max_body_bytes=int(raw.get("max_body_bytes", cls.max_body_bytes)),
            max_rows_per_request=int(raw.get("max_rows_per_request", cls.max_rows_per_request)),
            max_fields=int(raw.get("max_fields", cls.max_fields)),
            max_name_length=int(raw.get("max_name_length", cls.max_name_length)),
            max_json_depth=int(raw.get("max_json_depth", cls.max_json_depth)),
            rate_limits=RateLimits.from_raw(raw.get("rate_limits")),
            tenancy=Tenancy.from_raw(raw.get("tenancy")),
            postgres=postgres,
            catalog=CatalogConfig.from_raw(raw.get("catalog"), postgres),
        )
