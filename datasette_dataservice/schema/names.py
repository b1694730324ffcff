"""Slugs and identifiers: what users may name things, and how names become SQL names."""

from __future__ import annotations

import re
import unicodedata

SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
DATATABLE_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
MAX_SLUG_LENGTH = 50
# Names under /-/apps/ that are endpoints, not apps.
RESERVED_APP_SLUGS = frozenset({"openapi", "import"})
MAX_NAME_LENGTH = 63


def slugify(text: str) -> str:
    """URL-safe slug: lowercase ASCII letters and digits joined by single hyphens.

    >>> slugify("My Application")
    'my-application'
    >>> slugify("  Café / Ünïcode  data ")
    'cafe-unicode-data'
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:MAX_SLUG_LENGTH].rstrip("-")


def slug_problem(slug: object, what: str) -> str | None:
    """Why ``slug`` is not a valid slug, or None."""
    if not isinstance(slug, str) or not slug:
        return f'"slug" of the {what} must be a non-empty string'
    if len(slug) > MAX_SLUG_LENGTH:
        return f'"slug" of the {what} must be at most {MAX_SLUG_LENGTH} characters'
    if what == "app" and slug in RESERVED_APP_SLUGS:
        return f'"{slug}" is reserved (/-/apps/{slug} is an endpoint); choose another slug'
    if not SLUG_PATTERN.match(slug):
        return (
            f'"slug" of the {what} must be lowercase letters and digits separated by single '
            f'hyphens, like "{slugify(slug) or "my-slug"}"'
        )
    return None


def datatable_name_problem(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return '"name" must be a non-empty string'
    if len(name) > MAX_NAME_LENGTH:
        return f'"name" must be at most {MAX_NAME_LENGTH} characters'
    if not DATATABLE_NAME_PATTERN.match(name):
        return (
            '"name" of a datatable is used in URLs and as a table name: it must start with a '
            "letter and contain only letters, digits and underscores"
        )
    if name.lower().startswith("sqlite_"):
        return '"name" must not start with "sqlite_", a prefix SQLite reserves'
    return None


def physical_table_name(app_slug: str, datatable_name: str) -> str:
    """The seed's rule: the app slug as a prefix, e.g. ``myapp_users``.

    >>> physical_table_name("my-application", "users")
    'my_application_users'
    """
    return f"{app_slug.replace('-', '_')}_{datatable_name}"


def database_name(app_slug: str, datasource_slug: str, tenant: str = "") -> str:
    """The Datasette database of a datasource; a tenant's names carry its prefix.

    Slugs never contain underscores or a double hyphen, so neither separator is ambiguous
    and no two tenants' databases can share a name.

    >>> database_name("my-application", "users-db")
    'my-application_users-db'
    >>> database_name("crm", "main", tenant="acme")
    'acme--crm_main'
    """
    name = f"{app_slug}_{datasource_slug}"
    return f"{tenant}--{name}" if tenant else name


def quote_identifier(name: str) -> str:
    """Double-quote an SQL identifier, doubling embedded quotes (SQLite and PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'
