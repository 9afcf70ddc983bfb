"""Run every benchmark in turn and print its figures (``make bench`` / ``make bench-quick``).

Each ``bench_*.py`` beside this file starts what it needs (its own local broker, Spark, SMTP),
prints a plain-text table, and exits non-zero only if it could not measure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ORDER = ("csv_ingestor", "stream_storage", "analytics", "drone", "alert_mailer")


def main() -> int:
    """Run the benchmarks; return non-zero if any of them failed to measure."""
    here = Path(__file__).resolve().parent
    extra = sys.argv[1:]
    failed = []
    for name in ORDER:
        script = here / f"bench_{name}.py"
        if not script.exists():
            print(f"\n=== {name}: no benchmark yet ({script.name} missing)")
            continue
        print(f"\n=== {name} ({' '.join(extra) or 'full'})", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script), *extra], check=False)
        print(
            f"--- {name}: {time.monotonic() - started:.0f} s, exit {result.returncode}", flush=True
        )
        if result.returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that could not measure: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
