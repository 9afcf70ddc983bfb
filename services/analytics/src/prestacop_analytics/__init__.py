"""prestacop_analytics."""
