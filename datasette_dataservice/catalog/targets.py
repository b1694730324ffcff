"""A request's target (app, datasource, datatable) resolved in one catalog query: a path
names all three, and three lookups would be three round trips (on PostgreSQL, three network
round trips)."""

from __future__ import annotations

from .store import Row, _active_clause

APP_COUNTS = """,
      (SELECT count(*) FROM datasources d2 WHERE d2.app_id = a.id AND d2.is_active = 1)
        AS datasource_count,
      (SELECT count(*) FROM datatables t2 JOIN datasources d2 ON t2.datasource_id = d2.id
        WHERE d2.app_id = a.id AND t2.is_active = 1 AND d2.is_active = 1) AS table_count"""
DATASOURCE_COUNTS = """,
      (SELECT count(*) FROM datatables t2 WHERE t2.datasource_id = d.id AND t2.is_active = 1)
        AS table_count"""


def resolve_target(
    conn,
    tenant: str,
    app_slug: str,
    datasource_slug: str | None = None,
    datatable_name: str | None = None,
    include_inactive: bool = False,
) -> tuple[Row | None, Row | None, Row | None]:
    """(app, datasource, datatable) named by a request's path, in one query: each None when
    it is not found (and what is below it too). The deepest one asked for comes as its own
    lookup gives it (get_app, get_datasource, get_datatable), counts included."""
    depth = 1 + (datasource_slug is not None) + (datatable_name is not None)
    select = ["a.*" + (APP_COUNTS if depth == 1 else "")]
    joins, params = [], []
    if depth >= 2:
        select.append('NULL AS "__datasource", d.*' + (DATASOURCE_COUNTS if depth == 2 else ""))
        joins.append(
            "LEFT JOIN datasources d ON d.app_id = a.id AND d.slug = ?"
            + _active_clause("d", include_inactive)
        )
        params.append(datasource_slug)
    if depth == 3:
        select.append('NULL AS "__datatable", t.*')
        joins.append(
            "LEFT JOIN datatables t ON t.datasource_id = d.id AND t.name = ?"
            + _active_clause("t", include_inactive)
        )
        params.append(datatable_name)
    sql = (
        f"SELECT {', '.join(select)} FROM apps a {' '.join(joins)}"
        " WHERE a.tenant = ? AND a.slug = ?" + _active_clause("a", include_inactive)
    )
    cursor = conn.execute(sql, (*params, tenant, app_slug))
    row = cursor.fetchone()
    if row is None:
        return None, None, None
    parts: list[Row] = [{}]
    for description, value in zip(cursor.description, row, strict=True):
        if description[0] in ("__datasource", "__datatable"):
            parts.append({})
        else:
            parts[-1][description[0]] = value
    app = parts[0]
    datasource = parts[1] if depth >= 2 and parts[1]["id"] is not None else None
    datatable = parts[2] if datasource and depth == 3 and parts[2]["id"] is not None else None
    if datasource is not None:
        datasource.update(app_slug=app["slug"], tenant=app["tenant"])
    if datatable is not None:
        datatable.update(
            datasource_slug=datasource["slug"],
            provider_type=datasource["provider_type"],
            engine=datasource["engine"],
            database_name=datasource["database_name"],
            provider_config=datasource["provider_config"],
            app_slug=app["slug"],
            app_id=app["id"],
            tenant=app["tenant"],
        )
    return app, datasource, datatable
