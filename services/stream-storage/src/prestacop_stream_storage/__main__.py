"""Entrypoint of prestacop-stream-storage (not built yet)."""

import sys


def main() -> None:
    """Say honestly that this service is not built yet and exit non-zero."""
    sys.stderr.write("prestacop-stream-storage: not built yet\n")
    raise SystemExit(2)


if __name__ == "__main__":
    main()
