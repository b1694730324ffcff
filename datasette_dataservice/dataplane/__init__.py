"""Reading managed tables: query building, filter semantics and execution, below the
views in web/ (which stay thin) and beside the service layer."""
