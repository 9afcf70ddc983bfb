"""prestacop_devkit."""
