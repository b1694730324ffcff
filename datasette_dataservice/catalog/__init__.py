"""The metadata database: apps, datasources, datatables, schema versions and operations."""
