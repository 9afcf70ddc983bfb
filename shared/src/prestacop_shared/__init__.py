"""prestacop_shared."""
