"""prestacop_drone."""
