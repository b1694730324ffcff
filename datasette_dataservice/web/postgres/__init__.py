"""The data plane of Postgres-backed datasources: Datasette's URLs and JSON, served by the
plugin because Datasette itself is SQLite-only."""
