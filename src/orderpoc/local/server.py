"""The embedded AWS process: `python -m orderpoc.local.server --port P --state-dir D`.

moto's server app for the AWS APIs plus our runtime, pollers and API front, on a threaded
HTTP/1.1 server (httpserver.py) bound to 127.0.0.1 only. State lives in memory: stopping loses the resources.
SIGTERM/SIGINT shut down cleanly: stop the pollers, kill the workers, close the socket.
lifecycle.py starts it detached, with stdout/stderr going to the log file.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orderpoc.local.httpserver import DEFAULT_MAX_BODY  # standard library only, as is perimeter
from orderpoc.local.perimeter import is_invoke_url

HOST = "127.0.0.1"
EXIT_PORT_IN_USE = 3
MAX_WORKERS_ENV = "ORDERPOC_LOCAL_MAX_WORKERS"
RECYCLE_ENV = "ORDERPOC_LOCAL_RECYCLE_MB"  # growth in MB before an empty, idle server restarts; "off"
# Over the RSS at ready: `up` and `down` alone add ~20 MB (moto's IAM policies, models); a load run
# and `down` 40-60 MB, which the restart gives back (recycle.py).
RECYCLE_GROWTH_MB = 32.0
API_MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload quota (413 beyond)

log = logging.getLogger("orderpoc.local.server")


def default_max_workers() -> int:
    """Warm workers per function: the CPUs we may run on, 2 to 4. The workers share them with this
    server, so more add memory (~45 MB each) and no throughput (docs/benchmarks.md measures 2 vs 4)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 2)
    return min(4, max(2, cpus))


def _isolate_from_user_aws_config() -> None:
    """The emulator needs no account: never let a user's profile or config break botocore here."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")


MOTO_ENVIRONMENT = {
    # The tagging API's first GetResources (every up and down sweeps by tag) walks every backend
    # it knows, EC2's too, whose default AMIs orderpoc never uses: not loaded.
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


def configure_moto() -> None:
    """moto's settings for this process, before moto is imported (some are read at import)."""
    os.environ.update(MOTO_ENVIRONMENT)


def recycle_growth_mb(value: str | None) -> float | None:
    """ORDERPOC_LOCAL_RECYCLE_MB: a number of MB, or "off" (None: never restart)."""
    if value is None or not value.strip():
        return RECYCLE_GROWTH_MB
    if value.strip().lower() == "off":
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        log.warning("%s=%r is neither a number nor 'off': using %s", RECYCLE_ENV, value, RECYCLE_GROWTH_MB)
        return RECYCLE_GROWTH_MB


def _reexec(args: argparse.Namespace, fd: int, identity: dict[str, Any]) -> None:
    """Become a fresh server on the same socket, pid and boot id (recycle.py). Returns only if
    that fails (the interpreter gone after an upgrade): the caller then stops, holding nothing,
    and the next command starts a new server."""
    os.set_inheritable(fd, True)
    argv = [sys.executable, "-m", "orderpoc.local.server", "--port", str(args.port)]
    argv += ["--state-dir", str(args.state_dir), "--listen-fd", str(fd), "--boot-id", identity["boot_id"]]
    argv += ["--started-at", identity["started_at"], "--generation", str(identity["generation"] + 1)]
    from orderpoc.local.recycle import rss_mb

    log.info(
        "holding nothing and %.0f MB in use: starting afresh (generation %d)", rss_mb(), identity["generation"] + 1
    )
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    try:
        os.execv(sys.executable, argv)
    except OSError as exc:
        log.error("could not start afresh (%s): stopping; the next command starts a new server", exc)


def body_limit(path: str) -> int:
    """API Gateway takes payloads up to 10 MB; AWS API calls (a function's zip, base64 in JSON) more."""
    return API_MAX_BODY if is_invoke_url(path) else DEFAULT_MAX_BODY


def _say_ready(fd: int | None) -> None:
    """Tell the starting command we answer (it stops waiting); it may be gone already."""
    if fd is not None:
        with contextlib.suppress(OSError):
            os.write(fd, b"ready\n")
        with contextlib.suppress(OSError):
            os.close(fd)


GC_GEN0_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)


def tune_gc() -> None:
    """Less garbage-collector work per request, once moto and our modules are imported.

    moto makes many short-lived objects per call, and CPython's young-generation collection every
    700 allocations kept re-scanning them; the tens of thousands of objects the imports made were
    re-scanned by every older collection. Measured under load: 0.65 s of 11.3 s server CPU went to
    collections; with the imports frozen (never collected: they live as long as the process) and
    young collections every 20,000 allocations, 0.15 s. Cyclic garbage is still collected.
    """
    import gc

    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orderpoc.local.server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--ready-fd", type=int, help="write 'ready' there once serving (lifecycle.start)")
    # from the process this one replaces (_reexec): its socket, identity and count of restarts
    parser.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--boot-id", help=argparse.SUPPRESS)
    parser.add_argument("--started-at", help=argparse.SUPPRESS)
    parser.add_argument("--generation", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    # What it writes (the outbox of emails, the functions' code) is its owner's alone, whatever
    # the umask of the shell that started it.
    os.umask(0o077)
    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("ORDERPOC_LOCAL_DEBUG") else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("botocore", "urllib3"):  # one line per request is noise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _isolate_from_user_aws_config()
    configure_moto()

    # The port first (standard library only): a port another program holds is known in a tenth of
    # a second, not after the seconds of importing moto, and a client that connects meanwhile
    # waits in the listen backlog instead of being refused.
    from orderpoc.local.httpserver import make_server

    endpoint = f"http://{HOST}:{args.port}"
    try:
        httpd = make_server(HOST, args.port, inherited_fd=args.listen_fd, body_limit=body_limit)
    except OSError as exc:
        print(f"orderpoc-local: cannot listen on {HOST}:{args.port}: {exc}", file=sys.stderr, flush=True)
        return EXIT_PORT_IN_USE

    # Heavy imports after logging is set up, so import problems land in the log file.
    from orderpoc.local import patches
    from orderpoc.local.apigw import ApiGatewayFront
    from orderpoc.local.dispatcher import Dispatcher
    from orderpoc.local.idle_gc import IdleCollector
    from orderpoc.local.notifications import Notifier
    from orderpoc.local.perimeter import Perimeter
    from orderpoc.local.pollers import Supervisor
    from orderpoc.local.recycle import Recycler, ServiceLedger
    from orderpoc.local.routing import moto_app
    from orderpoc.local.runtime import LambdaRuntime

    runtime = LambdaRuntime(endpoint, max_workers=int(os.environ.get(MAX_WORKERS_ENV) or default_max_workers()))
    notifier = Notifier(args.state_dir, runtime)
    patches.apply(notifier.deliver, runtime.invoke_for_moto)
    supervisor = Supervisor(runtime)
    identity: dict[str, Any] = {
        "service": "orderpoc-local",
        "boot_id": args.boot_id or str(uuid.uuid4()),
        "started_at": args.started_at or datetime.now(UTC).isoformat(timespec="seconds"),
        "generation": args.generation,
        "pid": os.getpid(),
        "port": args.port,
        "state_dir": str(args.state_dir.resolve()),
    }

    def health() -> dict[str, Any]:
        recycling = {
            "idle_collections": idle.collections,
            "looks": recycler.looks,
            "kept_because": recycler.kept_because,
        }
        return {**identity, "pollers": supervisor.running(), "recycling": recycling}

    ledger = ServiceLedger()
    recycler = Recycler(ledger, httpd.gate, httpd.shutdown, recycle_growth_mb(os.environ.get(RECYCLE_ENV)))
    dispatcher = Dispatcher(moto_app(), runtime, ApiGatewayFront(runtime), health)
    # a full collection once the work is over (after a load run and `down`), then perhaps a restart
    idle = IdleCollector(after=recycler.after_idle)
    app = idle.wrap(Perimeter(ledger.wrap(dispatcher), args.port))  # this machine's tools only: no web page

    stopping = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: shutting down", signum)
        stopping.set()
        # shutdown() waits for serve_forever to return, so not from the thread that runs it
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    tune_gc()
    supervisor.start()
    idle.start()
    log.info("orderpoc local AWS listening on %s (boot %s)", endpoint, identity["boot_id"])
    _say_ready(args.ready_fd)
    try:
        while True:
            httpd.serve(app, poll_interval=0.2)  # until a signal, or a restart is due (recycle.py)
            if stopping.is_set() or not recycler.due:
                break
            if not recycler.confirm():
                continue  # a request came in meanwhile: serve on
            if stopping.is_set():
                break
            idle.stop()
            supervisor.stop()
            runtime.shutdown()
            _reexec(args, httpd.fileno(), identity)
            break  # it could not: stop (the gate stays shut for the requests waiting at it)
    finally:
        idle.stop()
        supervisor.stop()
        runtime.shutdown()
        httpd.server_close()
        log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
