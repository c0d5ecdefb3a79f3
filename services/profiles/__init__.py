"""ProfileService: its use cases (create, get, update, delete, import) and its servicer."""
