"""HTTP: route table, request parsing, JSON/HTML responses, errors, pagination."""
