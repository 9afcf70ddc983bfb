"""How many drones one process keeps at 1 status/s each, and what that costs in CPU.

Starts its own single-node Kafka broker (``prestacop_devkit.broker.LocalKafka``) on free ports,
then for each fleet size runs ``python -m prestacop_drone --interval-s 1`` as a real process and
measures a steady-state window (after start-up and the first interval):

- acknowledged events/s from the service's own ``/metrics`` (statuses and all events);
- the process's CPU time over the window (all threads, librdkafka's included) as % of one core;
- drones per core at 1 Hz = statuses/s / CPU fraction (the CPU cost of one drone), and whether
  the fleet kept its schedule (>= 99 % of the target statuses/s) on this machine right now.

Usage: ``.venv/bin/python benchmarks/bench_drone.py [--quick] [--sizes 1000,5000] [--window-s 20]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from prestacop_devkit.broker import LocalKafka, free_port

WARMUP_S = 3.0
INTERVAL_S = 1.0
KEPT_SCHEDULE = 0.99


@dataclass(frozen=True)
class Measure:
    drones: int
    window_s: float
    statuses_per_s: float
    events_per_s: float
    cpu_pct: float
    rss_mb: float
    delivery_errors: int
    queue_full: int
    broker_cpu_pct: float
    load_avg: float

    @property
    def target_per_s(self) -> float:
        return self.drones / INTERVAL_S

    @property
    def kept_schedule(self) -> bool:
        return self.statuses_per_s >= KEPT_SCHEDULE * self.target_per_s

    @property
    def cpu_us_per_event(self) -> float:
        return 1e6 * (self.cpu_pct / 100) / self.events_per_s if self.events_per_s else 0.0

    @property
    def drones_per_core(self) -> float:
        """Drones at 1 Hz one core can carry at the CPU cost measured (statuses/s per core)."""
        return self.statuses_per_s / (self.cpu_pct / 100) if self.cpu_pct else float("inf")


def scrape(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("prestacop_drone_") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def sent(values: dict[str, float], kind: str | None = None) -> float:
    prefix = "prestacop_drone_messages_sent_total"
    if kind:
        return values.get(f'{prefix}{{kind="{kind}"}}', 0.0)
    return sum(v for k, v in values.items() if k.startswith(prefix + "{"))


def errors(values: dict[str, float]) -> float:
    prefix = "prestacop_drone_delivery_errors_total{"
    return sum(v for k, v in values.items() if k.startswith(prefix))


def measure(bootstrap: str, broker_pid: int, drones: int, window_s: float) -> Measure:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DRONE_", "KAFKA_"))}
    env |= {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_PREFIX": f"bench-{drones}-{time.monotonic_ns()}.",
    }
    command = [
        sys.executable, "-m", "prestacop_drone",
        "--drones", str(drones), "--interval-s", str(INTERVAL_S), "--seed", "1",
        "--host", "bench", "--http-port", str(port), "--log-level", "WARNING",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        proc = psutil.Process(process.pid)
        broker = psutil.Process(broker_pid)
        deadline = time.monotonic() + 120
        while True:
            try:
                scrape(port)
                break
            except httpx.HTTPError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"drone service did not come up ({drones} drones)") from None
                time.sleep(0.2)
        time.sleep(WARMUP_S)
        before, cpu_before, wall_before = scrape(port), proc.cpu_times(), time.monotonic()
        broker_before = broker.cpu_times()
        time.sleep(window_s)
        after, cpu_after, wall_after = scrape(port), proc.cpu_times(), time.monotonic()
        broker_after = broker.cpu_times()
        load_avg = os.getloadavg()[0]
        rss_mb = proc.memory_info().rss / 1e6
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, _ = process.communicate(timeout=120)
    if process.returncode != 0:
        raise RuntimeError(f"drone service exited {process.returncode}: {stdout[-500:]}")
    summary = json.loads(stdout.strip().splitlines()[-1])
    wall = wall_after - wall_before
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    broker_cpu = (broker_after.user - broker_before.user) + (
        broker_after.system - broker_before.system
    )
    return Measure(
        drones=drones,
        window_s=wall,
        statuses_per_s=(sent(after, "status") - sent(before, "status")) / wall,
        events_per_s=(sent(after) - sent(before)) / wall,
        cpu_pct=100 * cpu / wall,
        rss_mb=rss_mb,
        delivery_errors=int(errors(after)) + sum(summary["failed"].values()),
        queue_full=int(after.get("prestacop_drone_producer_queue_full_total", 0.0)),
        broker_cpu_pct=100 * broker_cpu / wall,
        load_avg=load_avg,
    )


def print_table(measures: list[Measure]) -> None:
    header = (
        f"{'drones':>7} {'target st/s':>11} {'status/s':>9} {'events/s':>9} {'kept':>5} "
        f"{'CPU %core':>9} {'RSS MB':>7} {'errors':>6} {'q-full':>6} {'broker %':>8} "
        f"{'load1':>5} {'CPU us/evt':>10} {'drones/core@1Hz':>15}"
    )
    print(header)
    print("-" * len(header))
    for m in measures:
        per_core = f"{m.drones_per_core:,.0f}"
        print(
            f"{m.drones:>7} {m.target_per_s:>11.0f} {m.statuses_per_s:>9.0f} "
            f"{m.events_per_s:>9.0f} {'yes' if m.kept_schedule else 'NO':>5} "
            f"{m.cpu_pct:>9.1f} {m.rss_mb:>7.0f} {m.delivery_errors:>6} {m.queue_full:>6} "
            f"{m.broker_cpu_pct:>8.0f} {m.load_avg:>5.1f} {m.cpu_us_per_event:>10.1f} "
            f"{per_core:>15}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter windows")
    parser.add_argument("--sizes", help="comma-separated fleet sizes")
    parser.add_argument("--window-s", type=float, help="steady-state window per size")
    args = parser.parse_args()
    sizes = [1_000, 2_000, 5_000] if args.quick else [1_000, 2_000, 5_000, 10_000, 20_000]
    if args.sizes:
        sizes = [int(s) for s in args.sizes.split(",")]
    window_s = args.window_s or (8.0 if args.quick else 20.0)

    with tempfile.TemporaryDirectory(prefix="bench-drone-") as tmp:
        broker = LocalKafka.on_free_ports(Path(tmp) / "kafka")
        bootstrap = broker.start()
        try:
            print(
                f"prestacop-drone at {INTERVAL_S:g} status/s per drone, "
                f"{window_s:g} s window after {WARMUP_S:g} s warm-up, broker {bootstrap}, "
                f"{os.cpu_count()} cores"
            )
            measures = []
            for drones in sizes:
                broker_pid = broker.pid()
                if broker_pid is None:
                    raise RuntimeError("the benchmark's broker died")
                measures.append(measure(bootstrap, broker_pid, drones, window_s))
                print(f"  measured {drones} drones", file=sys.stderr, flush=True)
            print_table(measures)
        finally:
            broker.stop()
    kept = [m for m in measures if m.kept_schedule]
    if kept:
        best = max(kept, key=lambda m: m.drones)
        print(
            f"largest fleet that kept 1 Hz here: {best.drones} drones at {best.cpu_pct:.0f} % of a "
            f"core; CPU cost says about {best.drones_per_core:,.0f} drones per core at 1 Hz"
        )
    else:
        print("no fleet size kept its 1 Hz schedule in this run")
    print(
        "drones/core = statuses/s per core of process CPU (its cost, whether or not the fleet "
        "kept up); 'kept' = >= 99 % of the target statuses/s; 'load1' is the machine's 1-min "
        "load average: above the core count, other work competed for the CPU and fleets can "
        "fall behind at well under 100 % of a core."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
