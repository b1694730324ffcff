"""The Postgres data plane: SQL text, introspection, filters, table queries, execution."""
