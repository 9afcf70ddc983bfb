"""``prestacop-devkit``: fetch the jars, run a local Kafka broker, run Kafka's perf tools.

Machine-readable results (the bootstrap address, numbers) go to stdout; messages for people go to
stderr, so ``BOOTSTRAP=$(prestacop-devkit kafka up | tail -n1)`` works whether the broker was
started or already running.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from prestacop_devkit.broker import LocalKafka
from prestacop_devkit.exceptions import BrokerAlreadyRunning, DevkitError
from prestacop_devkit.jars import cache_dir, ensure_kafka_jars, ensure_spark_kafka_jars
from prestacop_devkit.perf import consumer_perf_test, producer_perf_test

app = typer.Typer(
    help="Prestacop developer tools: jars, a local Kafka broker, Kafka perf tools.",
    no_args_is_help=True,
    add_completion=False,
)
kafka_app = typer.Typer(help="A local single-node KRaft Kafka broker.", no_args_is_help=True)
app.add_typer(kafka_app, name="kafka")

EXIT_NOT_RUNNING = 3  # what LSB init scripts' `status` returns for "not running"

DataDirOption = Annotated[
    Path | None,
    typer.Option(help="Broker data directory [default: <cache>/kafka/local]", show_default=False),
]


def configure_logging(verbose: bool) -> None:
    """Send this package's log records to stderr, one line each."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("prestacop_devkit").setLevel(logging.WARNING)
        for chatty in ("httpx", "prestacop_shared"):  # the demo's polling, its topic creation
            logging.getLogger(chatty).setLevel(logging.WARNING)


@app.callback()
def _root(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    configure_logging(verbose)


def _say(message: str) -> None:
    typer.echo(message, err=True)


def _broker(data_dir: Path | None, port: int = 9092, controller_port: int = 9093) -> LocalKafka:
    return LocalKafka(data_dir or cache_dir() / "kafka" / "local", port, controller_port)


@app.command("fetch-jars")
def fetch_jars() -> None:
    """Fetch the Kafka broker jars and Spark's Kafka connector jars into the cache (once), and
    build stream-storage's Spark function jar beside the connector's (again when it changes)."""
    kafka_dir = ensure_kafka_jars()
    _say(f"Kafka broker and tools jars: {kafka_dir}")
    spark_jars = ensure_spark_kafka_jars()
    _say(f"Spark jars, connector and functions ({len(spark_jars)}): {spark_jars[0].parent}")
    typer.echo(kafka_dir)
    typer.echo(spark_jars[0].parent)


@app.command("docker-images")
def docker_images(
    force: Annotated[bool, typer.Option(help="Rebuild stand-ins even when unchanged.")] = False,
    pull: Annotated[bool, typer.Option(help="Try docker pull before building.")] = True,
) -> None:
    """Make the base images the Dockerfiles and compose file name present (stand-ins if needed)."""
    from prestacop_devkit.docker_images import ensure_images

    for name, outcome in ensure_images(force=force, pull=pull).items():
        typer.echo(f"{name}: {outcome}")


@app.command("docker-compose")
def docker_compose() -> None:
    """Install Compose v2 (and buildx, if the docker CLI lacks it) as Docker CLI plugins, built
    from the Go module proxy (once)."""
    from prestacop_devkit.docker_images import ensure_buildx_plugin, ensure_compose_plugin

    _say(ensure_compose_plugin())
    _say(ensure_buildx_plugin())


@kafka_app.command("up")
def kafka_up(
    port: Annotated[int, typer.Option(help="Client port on 127.0.0.1.")] = 9092,
    controller_port: Annotated[int, typer.Option(help="KRaft controller port.")] = 9093,
    data_dir: DataDirOption = None,
    heap: Annotated[str, typer.Option(help="JVM max heap.")] = "512m",
    timeout_s: Annotated[float, typer.Option("--timeout", help="Seconds to wait.")] = 60,
) -> None:
    """Start the broker in the background; print its bootstrap address last on stdout."""
    broker = _broker(data_dir, port, controller_port)
    broker.heap = heap
    try:
        address = broker.start(timeout_s=timeout_s)
    except BrokerAlreadyRunning as running:
        _say(str(running))
        typer.echo(running.bootstrap_servers)
        return
    _say(f"Kafka up at {address} (pid {broker.pid()}), data in {broker.data_dir}")
    _say(f"Logs: {broker.log_file}; stop it with `prestacop-devkit kafka down`")
    typer.echo(address)


@kafka_app.command("down")
def kafka_down(
    data_dir: DataDirOption = None,
    timeout_s: Annotated[float, typer.Option("--timeout", help="Seconds before SIGKILL.")] = 30,
) -> None:
    """Stop the broker started from the data directory (exit 0 if none is running)."""
    broker = _broker(data_dir)
    pid = broker.pid()
    if pid is None:
        _say(f"No Kafka running from {broker.data_dir}")
        return
    address = broker.recorded_bootstrap_servers()
    broker.stop(timeout_s=timeout_s)
    _say(f"Kafka at {address} (pid {pid}) stopped")


@kafka_app.command("status")
def kafka_status(data_dir: DataDirOption = None) -> None:
    """Say whether the broker runs; exit 3 if not (like an init script's ``status``)."""
    broker = _broker(data_dir)
    pid = broker.pid()
    if pid is None:
        _say(f"Kafka not running (data dir {broker.data_dir})")
        raise typer.Exit(EXIT_NOT_RUNNING)
    _say(f"Kafka running at {broker.recorded_bootstrap_servers()} (pid {pid})")
    typer.echo(broker.recorded_bootstrap_servers())


def _props(pairs: list[str]) -> dict[str, str]:
    props: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="--prop")
        props[key] = value
    return props


@app.command("producer-perf")
def producer_perf(
    topic: Annotated[str, typer.Option(help="Topic to write to.")],
    bootstrap: Annotated[str, typer.Option(help="Bootstrap servers.")] = "127.0.0.1:9092",
    records: Annotated[int, typer.Option(help="Number of records.")] = 1_000_000,
    record_size: Annotated[int, typer.Option(help="Record size in bytes.")] = 200,
    prop: Annotated[
        list[str] | None, typer.Option(help="Extra producer property key=value (repeatable).")
    ] = None,
) -> None:
    """Run Kafka's ProducerPerformance flat out with acks=all and print its summary."""
    result = producer_perf_test(bootstrap, topic, records, record_size, _props(prop or []))
    typer.echo(
        f"{result.records} records, {result.records_per_s:,.0f} records/s, "
        f"{result.mb_per_s:.2f} MB/s, latency avg {result.avg_latency_ms:.1f} ms, "
        f"p99 {result.p99_latency_ms} ms, max {result.max_latency_ms:.0f} ms"
    )


@app.command("consumer-perf")
def consumer_perf(
    topic: Annotated[str, typer.Option(help="Topic to read from the start.")],
    bootstrap: Annotated[str, typer.Option(help="Bootstrap servers.")] = "127.0.0.1:9092",
    records: Annotated[int, typer.Option(help="Number of records to read.")] = 1_000_000,
) -> None:
    """Run Kafka's ConsumerPerformance and print its summary."""
    result = consumer_perf_test(bootstrap, topic, records)
    typer.echo(
        f"{result.records} records, {result.records_per_s:,.0f} records/s, "
        f"{result.mb_per_s:.2f} MB/s (fetch {result.fetch_time_ms} ms, "
        f"rebalance {result.rebalance_time_ms} ms)"
    )


@app.command("demo")
def demo(
    duration_s: Annotated[
        float, typer.Option(help="How long the services run before the final report.")
    ] = 120.0,
    drones: Annotated[int, typer.Option(help="Drones in the simulated fleet.")] = 20,
    rows: Annotated[int, typer.Option(help="Rows of the generated FY2017 file.")] = 200_000,
    csv: Annotated[
        list[Path] | None,
        typer.Option(help="Ingest these CSV files instead of a generated one (repeatable)."),
    ] = None,
    workdir: Annotated[Path, typer.Option(help="Where everything is written.")] = Path("demo-run"),
    keep_running: Annotated[
        bool,
        typer.Option(
            help="Leave everything up after --duration-s (the operator console, the dashboard) "
            "until Ctrl-C, then store, report and summarise."
        ),
    ] = False,
) -> None:
    """Run the whole system as local processes for a while, then print a summary."""
    from prestacop_devkit.demo import DemoOptions, run_demo

    options = DemoOptions(
        workdir=workdir,
        duration_s=duration_s,
        drones=drones,
        rows=rows,
        csv_files=tuple(csv or ()),
        keep_running=keep_running,
    )
    raise SystemExit(run_demo(options))


def main() -> None:
    """Run the CLI; a :class:`DevkitError` ends it with its message and exit code 1."""
    try:
        app()
    except DevkitError as error:
        _say(f"prestacop-devkit: {error}")
        raise SystemExit(1) from error


if __name__ == "__main__":
    main()
