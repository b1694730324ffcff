"""The OpenAPI 3.1 document of the data service, served at ``/-/apps/openapi.json``.

Written as data, close to the route table: each operation names its path, method, request
body schema and success response; every operation also answers errors in Datasette's shape.
"""

from __future__ import annotations

from typing import Any

from .. import __version__

NULLABLE_STRING = {"type": ["string", "null"]}
TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}


def _obj(required: list[str] | None = None, strict: bool = False, **properties) -> dict:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if strict:
        schema["additionalProperties"] = False
    return schema


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(key: str, item: str) -> dict:
    return _obj(
        ["ok", "count", key, "next", "next_url"],
        ok={"const": True},
        count={"type": "integer"},
        **{key: {"type": "array", "items": ref(item)}},
        next=NULLABLE_STRING,
        next_url=NULLABLE_STRING,
    )


OK = {"ok": {"const": True}}
SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        ["ok", "error", "errors", "status"],
        ok={"const": False},
        error={"type": "string"},
        errors={"type": "array", "items": {"type": "string"}},
        status={"type": "integer"},
        report={"type": "object"},
    ),
    "TableSchema": {
        "type": "object",
        "description": "A Frictionless Table Schema (v1 or v2)",
        "required": ["fields"],
        "properties": {"fields": {"type": "array", "items": {"type": "object"}}},
    },
    "App": _obj(
        ["id", "name", "slug", "datasource_count", "table_count", "created_at"],
        **OK,
        id={"type": "integer"},
        name={"type": "string"},
        slug={"type": "string"},
        description={"type": "string"},
        datasource_count={"type": "integer"},
        table_count={"type": "integer"},
        is_active={"type": "boolean"},
        created_at=TIMESTAMP,
        updated_at=TIMESTAMP,
        deleted_at=TIMESTAMP,
        url={"type": "string"},
    ),
    "DataSource": _obj(
        ["id", "name", "slug", "provider_type", "database"],
        **OK,
        id={"type": "integer"},
        app={"type": "string"},
        name={"type": "string"},
        slug={"type": "string"},
        description={"type": "string"},
        provider_type={"enum": ["flat_table", "jsonb"]},
        provider_config={"type": "object"},
        engine={"type": "string"},
        database={"type": "string"},
        table_count={"type": "integer"},
        is_active={"type": "boolean"},
        created_at=TIMESTAMP,
        database_url=NULLABLE_STRING,
    ),
    "DataTable": _obj(
        ["id", "name", "json_schema", "schema_hash", "physical_table_name", "is_materialized"],
        **OK,
        id={"type": "integer"},
        app={"type": "string"},
        datasource={"type": "string"},
        name={"type": "string"},
        description={"type": "string"},
        provider_type={"type": "string"},
        json_schema=ref("TableSchema"),
        schema_hash={"type": "string"},
        schema_version={"type": "integer"},
        physical_table_name={"type": "string"},
        is_materialized={"type": "boolean"},
        is_active={"type": "boolean"},
        created_at=TIMESTAMP,
        database={"type": "string"},
        table={"type": "string"},
        table_url=NULLABLE_STRING,
        json_url=NULLABLE_STRING,
        query_url=NULLABLE_STRING,
        insert_url=NULLABLE_STRING,
    ),
    "Operation": _obj(
        ["id", "operation", "target", "status", "created_at"],
        id={"type": "integer"},
        operation={"type": "string"},
        target_type={"type": "string"},
        target={"type": "string"},
        actor=NULLABLE_STRING,
        status={"enum": ["applied", "refused", "failed"]},
        sql={"type": "array", "items": {"type": "string"}},
        duration_ms={"type": ["number", "null"]},
        created_at=TIMESTAMP,
    ),
    "Plan": _obj(
        ["operations", "sql", "rebuild", "failing_rows", "complete", "valid", "report"],
        **OK,
        operations={"type": "array", "items": {"type": "object"}},
        sql={"type": "array", "items": {"type": "string"}},
        rebuild={"type": "boolean"},
        failing_rows={"type": "integer"},
        complete={"type": "boolean"},
        valid={"type": "boolean"},
        report={"type": "object"},
    ),
    "Stats": _obj(["ok"], **OK),
    "DataPackage": _obj(
        ["name", "resources"],
        name={"type": "string"},
        resources={"type": "array", "items": {"type": "object"}},
    ),
    "Validation": _obj(
        ["ok", "valid", "report"], **OK, valid={"type": "boolean"}, report={"type": "object"}
    ),
    "Import": _obj(
        ["ok", "id", "state", "rows_read", "rows_written"],
        **OK,
        id={"type": "string"},
        state={"type": "string"},
        rows_read={"type": "integer"},
        rows_written={"type": "integer"},
        rows_invalid={"type": "integer"},
        rows_discarded={"type": "integer"},
        report={"type": "object"},
    ),
    "AppList": _list("apps", "App"),
    "DataSourceList": _list("datasources", "DataSource"),
    "DataTableList": _list("datatables", "DataTable"),
    "OperationList": _list("operations", "Operation"),
}
TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
BODIES = {
    "AppCreate": _obj(
        ["name"], True, name=TEXT, slug={"type": "string"}, description={"type": "string"}
    ),
    "AppUpdate": _obj(None, True, name=TEXT, description={"type": "string"}),
    "DataSourceCreate": _obj(
        ["name", "provider_type"],
        True,
        name=TEXT,
        slug={"type": "string"},
        description={"type": "string"},
        provider_type={"enum": ["flat_table", "jsonb"]},
        provider_config={"type": "object"},
    ),
    "DataSourceUpdate": _obj(None, True, name=TEXT, description={"type": "string"}),
    "DataTableCreate": _obj(
        ["name", "json_schema"],
        True,
        name={"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,62}$"},
        description={"type": "string"},
        json_schema=ref("TableSchema"),
        materialize={"type": "boolean"},
    ),
    "DataTableUpdate": _obj(
        None,
        True,
        name={"type": "string"},
        description={"type": "string"},
        json_schema=ref("TableSchema"),
        renames={"type": "object", "additionalProperties": {"type": "string"}},
        schema_hash={"type": "string"},
        on_invalid={"enum": ["refuse", "set_null"]},
    ),
    "SchemaPlan": _obj(
        None,
        True,
        json_schema=ref("TableSchema"),
        renames={"type": "object", "additionalProperties": {"type": "string"}},
    ),
    "Rows": _obj(
        None, True, row={"type": "object"}, rows={"type": "array", "items": {"type": "object"}}
    ),
}
SCHEMAS.update(BODIES)

A, D, T = (
    "/-/apps/{app}",
    "/-/apps/{app}/datasources/{ds}",
    "/-/apps/{app}/datasources/{ds}/datatables/{table}",
)
# (path, method, summary, request body, success status, response schema)
OPERATIONS = [
    ("/-/apps.json", "get", "List apps", None, 200, "AppList"),
    ("/-/apps", "post", "Create an app", "AppCreate", 201, "App"),
    (A + ".json", "get", "Read an app", None, 200, "App"),
    (A, "patch", "Update an app", "AppUpdate", 200, "App"),
    (A, "delete", "Soft delete an app, its datasources and datatables", None, 200, "App"),
    (A + "/restore", "post", "Restore a deleted app", None, 200, "App"),
    (A + "/stats.json", "get", "App statistics", None, 200, "Stats"),
    (A + "/operations.json", "get", "The app's audit trail", None, 200, "OperationList"),
    (A + "/datatables.json", "get", "Datatables across datasources", None, 200, "DataTableList"),
    (A + "/datatables/stats.json", "get", "Statistics across datasources", None, 200, "Stats"),
    (A + "/datasources.json", "get", "List datasources", None, 200, "DataSourceList"),
    (A + "/datasources", "post", "Create a datasource", "DataSourceCreate", 201, "DataSource"),
    (D + ".json", "get", "Read a datasource", None, 200, "DataSource"),
    (D, "patch", "Update a datasource", "DataSourceUpdate", 200, "DataSource"),
    (D, "delete", "Soft delete a datasource", None, 200, "DataSource"),
    (D + "/restore", "post", "Restore a datasource", None, 200, "DataSource"),
    (D + "/stats.json", "get", "Datasource statistics", None, 200, "Stats"),
    (D + "/datatables.json", "get", "List datatables", None, 200, "DataTableList"),
    (
        D + "/datatables",
        "post",
        "Create (and materialize) a datatable",
        "DataTableCreate",
        201,
        "DataTable",
    ),
    (T + ".json", "get", "Read a datatable", None, 200, "DataTable"),
    (
        T,
        "put",
        "Change name, description or schema (a migration)",
        "DataTableUpdate",
        200,
        "DataTable",
    ),
    (
        T,
        "patch",
        "Change name, description, or merge into the schema",
        "DataTableUpdate",
        200,
        "DataTable",
    ),
    (T, "delete", "Soft delete (or ?purge=true&confirm= to drop)", None, 200, "DataTable"),
    (T + "/restore", "post", "Restore a datatable", None, 200, "DataTable"),
    (T + "/materialize", "post", "Materialize a datatable", None, 200, "DataTable"),
    (T + "/schema.json", "get", "The Table Schema alone", None, 200, "TableSchema"),
    (T + "/schema/plan", "post", "Dry run of a schema change", "SchemaPlan", 200, "Plan"),
    (T + "/operations.json", "get", "The datatable's audit trail", None, 200, "OperationList"),
    (T + "/validate", "post", "Validate rows without writing", "Rows", 200, "Validation"),
    (T + "/schema/diff.json", "get", "Operations between two schema versions", None, 200, "Stats"),
    (T + "/import", "post", "Bulk load CSV, TSV, a JSON array or NDJSON", "Upload", 201, "Import"),
    (T + "/imports/{import_id}.json", "get", "Progress of an import", None, 200, "Import"),
    (T + "/data.csv", "get", "The rows as CSV, exactly the schema's fields", None, 200, "CSV"),
    (
        A + "/datapackage.json",
        "get",
        "The app as a Frictionless Data Package",
        None,
        200,
        "DataPackage",
    ),
    (A + "/datapackage.zip", "get", "The Data Package with its data, zipped", None, 200, "Zip"),
    ("/-/apps/import", "post", "Create an app from a Data Package zip", "ZipUpload", 201, "Stats"),
]
MEDIA = {
    "CSV": "text/csv",
    "Zip": "application/zip",
    "ZipUpload": "application/octet-stream",
    "Upload": "text/csv",
}
PATH_PARAMETERS = ("app", "ds", "table", "import_id")
PARAMETERS = {
    name: {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
    for name in PATH_PARAMETERS
}


def _content(name: str) -> dict:
    if name in MEDIA:
        return {MEDIA[name]: {"schema": {"type": "string", "format": "binary"}}}
    return {"application/json": {"schema": ref(name)}}


def _operation_id(method: str, path: str) -> str:
    """e.g. get_apps_app_datasources_ds for GET /-/apps/{app}/datasources/{ds}.json"""
    words = path.replace(".json", "").replace("{", "").replace("}", "").split("/")
    return "_".join([method, *(w for w in words if w and w != "-")])


def openapi_document(server_url: str) -> dict[str, Any]:
    paths: dict[str, dict] = {}
    for path, method, summary, body, status, response in OPERATIONS:
        operation: dict[str, Any] = {
            "summary": summary,
            "operationId": _operation_id(method, path),
            "parameters": [PARAMETERS[p] for p in PATH_PARAMETERS if f"{{{p}}}" in path],
            "responses": {
                str(status): {
                    "description": "Success",
                    "content": _content(response),
                },
                "4XX": {
                    "description": "Refused, in Datasette's error shape",
                    "content": {"application/json": {"schema": ref("Error")}},
                },
                "501": {
                    "description": "Provider not available",
                    "content": {"application/json": {"schema": ref("Error")}},
                },
            },
        }
        if body:
            operation["requestBody"] = {"required": True, "content": _content(body)}
        paths.setdefault(path, {})[method] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "datasette-dataservice",
            "version": __version__,
            "description": "Apps, datasources and datatables defined by Frictionless Table "
            "Schemas, served by Datasette. The paths also answer under /api/apps/.",
        },
        "servers": [{"url": server_url}],
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"token": []}, {}],
        "paths": paths,
    }
