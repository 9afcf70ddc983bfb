"""prestacop_csv_ingestor."""
