"""Command line of prestacop-csv-ingestor: ``ingest``, ``watch`` and ``generate``."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry, Gauge
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from prestacop_csv_ingestor.config import Settings
from prestacop_csv_ingestor.exceptions import DeliveryError, FileRefusedError, ProgressError
from prestacop_csv_ingestor.ingest import FileIngestor, ProgressCallback
from prestacop_csv_ingestor.summary import FileSummary, peak_rss_mb
from prestacop_csv_ingestor.watch import WatchCounts, watch_inbox
from prestacop_shared.config import load_settings
from prestacop_shared.exceptions import ConfigError
from prestacop_shared.kafka import KafkaSettings
from prestacop_shared.logs import configure_logging
from prestacop_shared.service_http import HttpServerError, ServiceHttp, WorkProgress, serve

logger = logging.getLogger(__name__)
app = typer.Typer(help="Stream the NYC parking-ticket CSV history into Kafka, exactly once.")
out = Console()

EXIT_REFUSED = 3
EXIT_KAFKA = 1
EXIT_INTERRUPTED = 130


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        logger.warning("stopping after the current batch", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def _settings(**overrides: Any) -> tuple[Settings, KafkaSettings]:
    try:
        settings = load_settings(Settings, **{k: v for k, v in overrides.items() if v is not None})
        kafka = load_settings(KafkaSettings)
    except ConfigError as error:
        sys.stderr.write(f"{error}\n")
        raise typer.Exit(2) from error
    configure_logging(settings.log_level)
    return settings, kafka


def _serve_health(
    settings: Settings, counts: WatchCounts
) -> tuple[WorkProgress, ServiceHttp | None]:
    """/healthz (a file in progress commits transactions) and /metrics, on INGESTOR_HTTP_PORT.

    Besides the work progress, /metrics shows the watch loop's files by outcome (``counts``).
    """
    registry = CollectorRegistry()
    work = WorkProgress("csv_ingestor", stalled_after_s=settings.stalled_after_s, registry=registry)
    files = Gauge(
        "prestacop_csv_ingestor_files",
        "Files this process moved to done/, refused/ or failed/, and Kafka failures retried",
        ["outcome"],
        registry=registry,
    )
    for outcome in ("done", "refused", "failed", "kafka_retries"):
        files.labels(outcome).set_function(partial(getattr, counts, outcome))
    try:
        server = serve(
            registry, work.health, host=settings.http_host, port=settings.http_port,
            port_setting="INGESTOR_HTTP_PORT",
        )  # fmt: skip
    except HttpServerError as error:
        sys.stderr.write(f"{error}\n")
        raise typer.Exit(2) from error
    return work, server


def _tracking(work: WorkProgress, callback: ProgressCallback) -> ProgressCallback:
    def report(summary: FileSummary, offset: int, size: int) -> None:
        work.working()
        callback(summary, offset, size)

    return report


def _log_progress(every_s: float) -> ProgressCallback:
    last = [0.0]

    def report(summary: FileSummary, offset: int, size: int) -> None:
        now = time.monotonic()
        if now - last[0] < every_s:
            return
        last[0] = now
        logger.info(
            "progress",
            extra={
                "source_file": summary.file, "byte_offset": offset, "size_bytes": size,
                "pct": round(100 * offset / size, 1) if size else 100.0,
                "lines_read": summary.lines_read, "sent": summary.sent,
                "rows_per_s": round(summary.rows_per_s), "peak_rss_mb": round(peak_rss_mb()),
            },
        )  # fmt: skip

    return report


def _bar_progress(progress: Progress) -> ProgressCallback:
    tasks: dict[str, Any] = {}

    def report(summary: FileSummary, offset: int, size: int) -> None:
        if summary.file not in tasks:
            tasks[summary.file] = progress.add_task(summary.file, total=size, rows="")
        rows = f"{summary.rows_per_s:,.0f} rows/s"
        progress.update(tasks[summary.file], completed=offset, rows=rows)

    return report


def _print_summary(summaries: list[FileSummary], as_json: bool) -> None:
    peak = round(peak_rss_mb(), 1)
    if as_json:
        document = {"files": [s.to_dict() for s in summaries], "peak_rss_mb": peak}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    for s in summaries:
        quarantined = ", ".join(f"{k}: {v}" for k, v in sorted(s.quarantined.items())) or "none"
        if s.status in ("refused", "failed"):
            out.print(f"[bold]{s.file}[/bold]: {s.status}", highlight=False)
            out.print(f"  {s.message}", highlight=False, markup=False)
            continue
        out.print(f"[bold]{s.file}[/bold]: {s.status}" + (f" — {s.message}" if s.message else ""))
        if s.status in ("ingested", "interrupted"):
            out.print(
                f"  lines read {s.lines_read:,} (from line {s.resumed_from_line:,}) · "
                f"sent {s.sent:,} · quarantined {sum(s.quarantined.values()):,} ({quarantined})\n"
                f"  repeated summons numbers {s.repeated_summons:,} (Bloom filter estimate) · "
                f"{s.rows_per_s:,.0f} rows/s · {s.elapsed_s:.1f} s",
                highlight=False,
            )
    out.print(f"peak RSS {peak} MB", highlight=False)


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix == ".csv"))
        else:
            files.append(path)
    return files


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="CSV files or folders of .csv files")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON")] = False,
    max_rows_per_s: Annotated[float | None, typer.Option(help="Rate limit, rows/s")] = None,
    max_mb_per_s: Annotated[float | None, typer.Option(help="Rate limit, MB/s read")] = None,
) -> None:
    """Send every line of the files to Kafka (resuming where a previous run stopped)."""
    settings, kafka = _settings(max_rows_per_s=max_rows_per_s, max_mb_per_s=max_mb_per_s)
    stop = _stop_on_signals()
    summaries: list[FileSummary] = []
    exit_code = 0
    terminal = sys.stderr.isatty() and not as_json
    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TextColumn("{task.fields[rows]}"), TimeRemainingColumn(), console=Console(stderr=True),
        disable=not terminal,
    )  # fmt: skip
    callback = _bar_progress(progress) if terminal else _log_progress(settings.log_every_s)
    ingestor = FileIngestor(settings, kafka, stop=stop, on_progress=callback)
    with progress:
        for path in _expand(paths):
            if stop.is_set():
                break
            try:
                summaries.append(ingestor.ingest(path))
            except FileRefusedError as error:
                sys.stderr.write(f"{error}\n")
                summaries.append(FileSummary(file=path.name, status="refused", message=str(error)))
                exit_code = max(exit_code, EXIT_REFUSED)
            except (DeliveryError, ProgressError) as error:
                sys.stderr.write(f"Kafka error: {error}\n")
                summaries.append(FileSummary(file=path.name, status="failed", message=str(error)))
                exit_code = EXIT_KAFKA
                break
    _print_summary(summaries, as_json)
    if stop.is_set() and exit_code == 0:
        exit_code = EXIT_INTERRUPTED
    raise typer.Exit(exit_code)


@app.command()
def watch(
    inbox: Annotated[Path | None, typer.Option(help="Folder to watch (INGESTOR_INBOX)")] = None,
) -> None:
    """Service mode: ingest each settled file of the inbox; move it to done/, refused/ or failed/."""

    settings, kafka = _settings(inbox=inbox)
    if settings.inbox is None:
        sys.stderr.write("an inbox is needed: --inbox DIR or INGESTOR_INBOX\n")
        raise typer.Exit(2)
    stop = _stop_on_signals()
    counts = WatchCounts()
    work, server = _serve_health(settings, counts)
    work.waiting()
    ingestor = FileIngestor(
        settings,
        kafka,
        stop=stop,
        on_progress=_tracking(work, _log_progress(settings.log_every_s)),
        on_commit=lambda rows: work.committed(rows),
    )

    def log_summary(summary: FileSummary) -> None:
        work.waiting()
        # Nested: a flat ``extra`` would clash with LogRecord's own ``message`` attribute.
        logger.info("file summary", extra={"summary": summary.to_dict()})

    try:
        watch_inbox(
            settings.inbox, ingestor, settings.poll_interval_s, log_summary,
            settle_s=settings.settle_s, counts=counts,
        )  # fmt: skip
    finally:
        if server is not None:
            server.stop()


@app.command()
def generate(
    out_file: Annotated[Path, typer.Option("--out", help="File to write")],
    rows: Annotated[int, typer.Option(min=1, help="Data lines to write")] = 1_000_000,
    year: Annotated[int, typer.Option(min=2014, max=2017, help="Fiscal year layout")] = 2017,
    seed: Annotated[int, typer.Option(help="Same seed, same file")] = 0,
    bad_lines: Annotated[int, typer.Option(min=0, help="Bad lines of each kind")] = 0,
) -> None:
    """Write a realistic synthetic tickets file in the exact format of a real fiscal year."""
    from prestacop_csv_ingestor.generate import generate_file

    started = time.monotonic()
    result = generate_file(out_file, rows, year=year, seed=seed, bad_lines=bad_lines)
    elapsed = time.monotonic() - started
    out.print(
        f"wrote {out_file} ({out_file.stat().st_size / 1e6:,.1f} MB, {rows:,} rows, FY{year}, "
        f"{len(result.bad_lines)} bad lines) in {elapsed:.1f} s",
        highlight=False,
    )
    for line, kind in sorted(result.bad_lines.items()):
        out.print(f"  bad line {line}: {kind}", highlight=False)


def main() -> None:
    """Run the command line."""
    app()


if __name__ == "__main__":
    main()
