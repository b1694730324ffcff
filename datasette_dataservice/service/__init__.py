"""Use cases: apps, datasources, datatables, stats. Owns transactions; knows no HTTP."""
