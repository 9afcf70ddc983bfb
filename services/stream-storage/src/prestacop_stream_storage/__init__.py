"""prestacop_stream_storage."""
