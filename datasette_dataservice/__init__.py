"""datasette-dataservice: a schema-first data service for Datasette."""

__version__ = "0.1.0"
