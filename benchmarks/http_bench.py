"""Compare the secured ClStock API with a bare Starlette endpoint and FastAPI + slowapi.

Three servers run one after another under identical uvicorn settings (one
worker, ``log_level="warning"``, no access log, no proxy headers, and the
HTTP parser uvicorn picks: httptools when installed, as the ``bench`` extra
does, else h11), each in its own process on 127.0.0.1:

- ``clstock``: ``GET /api/v1/recommendations`` of the real API (API-key auth,
  the ``limiter`` rate limiter with limits raised so the run is never
  throttled, security headers, request ids), served from its cache;
- ``starlette``: a bare Starlette route returning the same JSON bytes;
- ``fastapi``: FastAPI with ``HTTPBearer``, a SHA-256 key check and a
  ``slowapi`` decorator limit (limits raised the same way), returning the
  same bytes, without rate-limit or security headers;
- ``fastapi-full``: the same endpoint with ClStock's features written the
  usual FastAPI way: ``SlowAPIMiddleware`` with rate-limit headers and an
  ``@app.middleware("http")`` function adding the security headers and a
  request id. This is the stack the 4x goal is measured against.

The load comes from ``wrk`` in a second process (``apt-get install wrk``),
with the bearer key on every request. Runs of the three servers are
interleaved round by round so that background load hits them alike; the
script prints the median requests/s and p99 latency of each, and the ratios
the goals are stated in. A run in which any response was not 200 is an error.

    .venv/bin/python benchmarks/http_bench.py --rounds 5 --duration 10

The servers are started by this same file with ``--serve NAME``.
"""

# No "from __future__ import annotations": FastAPI must see the real types of
# the endpoint parameters, which are imported inside serve_fastapi.
import argparse
import hashlib
import hmac
import importlib.util
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

KEY = "clsk_benchmark-key-0123456789abcdefghijklmnopqrstuvwxyz"
PATH = "/api/v1/recommendations"
SERVERS = ("clstock", "starlette", "fastapi", "fastapi-full")
#: Goals: ClStock keeps 75% of the bare endpoint and is 4x FastAPI + slowapi.
GOAL_OF_BARE = 0.75
GOAL_OVER_FASTAPI = 4.0
UVICORN_OPTIONS: dict[str, Any] = {
    "host": "127.0.0.1",
    "log_level": "warning",
    "access_log": False,
    "proxy_headers": False,
    "server_header": False,
    "lifespan": "on",
}


# -- servers (run in child processes) ------------------------------------------


def serve_clstock(port: int, workdir: Path) -> None:
    import uvicorn
    from clstock_http.asgi import ClStockApi

    from clstock_core.app import Application

    api = ClStockApi(Application(workdir / "clstock.toml"))
    uvicorn.run(api, port=port, **UVICORN_OPTIONS)


def serve_starlette(port: int, workdir: Path) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    body = (workdir / "body.json").read_bytes()

    async def recommendations(request: Request) -> Response:
        return Response(body, media_type="application/json")

    app = Starlette(routes=[Route(PATH, recommendations)])
    uvicorn.run(app, port=port, **UVICORN_OPTIONS)


def serve_fastapi(port: int, workdir: Path) -> None:
    import uvicorn
    from fastapi import Depends, FastAPI, HTTPException, Request, Response
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.util import get_remote_address

    body = (workdir / "body.json").read_bytes()
    expected = hashlib.sha256(KEY.encode()).digest()
    limiter = Limiter(key_func=get_remote_address)
    app = FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
    bearer = HTTPBearer()

    @app.get(PATH)
    @limiter.limit("100000000/minute")
    async def recommendations(
        request: Request,
        credentials: HTTPAuthorizationCredentials = Depends(bearer),  # noqa: B008
    ) -> Response:
        digest = hashlib.sha256(credentials.credentials.encode()).digest()
        if not hmac.compare_digest(digest, expected):
            raise HTTPException(status_code=401, detail="invalid API key")
        return Response(body, media_type="application/json")

    uvicorn.run(app, port=port, **UVICORN_OPTIONS)


#: The headers the ClStock API sends on every response, for the
#: feature-equivalent FastAPI stack.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-XSS-Protection": "0",
    "Cache-Control": "no-store",
}


def serve_fastapi_full(port: int, workdir: Path) -> None:
    """FastAPI with the same features as ClStock, written the usual FastAPI way.

    slowapi's ``SlowAPIMiddleware`` applies the limit and adds its
    ``X-RateLimit-*`` headers, an ``@app.middleware("http")`` function adds
    the security headers and a request id, and ``HTTPBearer`` reads the key.
    """
    import uuid

    import uvicorn
    from fastapi import Depends, FastAPI, HTTPException, Request, Response
    from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
    from slowapi import Limiter, _rate_limit_exceeded_handler
    from slowapi.errors import RateLimitExceeded
    from slowapi.middleware import SlowAPIMiddleware
    from slowapi.util import get_remote_address

    body = (workdir / "body.json").read_bytes()
    expected = hashlib.sha256(KEY.encode()).digest()
    limiter = Limiter(
        key_func=get_remote_address, default_limits=["100000000/minute"], headers_enabled=True
    )
    app = FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)
    app.add_middleware(SlowAPIMiddleware)
    bearer = HTTPBearer()

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        response.headers["X-Request-ID"] = uuid.uuid4().hex
        return response

    @app.get(PATH)
    async def recommendations(
        request: Request,
        credentials: HTTPAuthorizationCredentials = Depends(bearer),  # noqa: B008
    ) -> Response:
        digest = hashlib.sha256(credentials.credentials.encode()).digest()
        if not hmac.compare_digest(digest, expected):
            raise HTTPException(status_code=401, detail="invalid API key")
        return Response(body, media_type="application/json")

    uvicorn.run(app, port=port, **UVICORN_OPTIONS)


SERVE = {
    "clstock": serve_clstock,
    "starlette": serve_starlette,
    "fastapi": serve_fastapi,
    "fastapi-full": serve_fastapi_full,
}


# -- setup ---------------------------------------------------------------------


def write_fixture(workdir: Path, stocks: int) -> None:
    """Write synthetic prices for ``stocks`` symbols and a ClStock config."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.helpers import make_ohlcv, write_plain_csv

    prices = workdir / "prices"
    prices.mkdir()
    lines = ["code,symbol,name"]
    for index in range(stocks):
        code = str(1301 + index * 7)
        write_plain_csv(
            prices / f"{code}.T.csv", make_ohlcv(400, seed=index, drift=(index % 7 - 3) / 2000)
        )
        lines.append(f"{code},{code}.T,Company {index}")
    (workdir / "symbols.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    unlimited = ", ".join(
        f'{route} = "100000000/minute"'
        for route in ("recommendations", "recommendation", "stocks", "stock_data", "cache_clear")
    )
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    (workdir / "clstock.toml").write_text(
        f"""
[data_source]
use = "csv"
[data_source.csv]
directory = "{prices.as_posix()}"
universe_file = "{(workdir / "symbols.csv").as_posix()}"
[cache]
use = "none"
[engine]
history_days = 20000
[frontend.http]
access_log = false
[rate_limiter.limiter]
routes = {{ {unlimited} }}
[auth.api-key]
keys = [{{ sha256 = "{digest}", role = "reader", label = "benchmark" }}]
""",
        encoding="utf-8",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Running:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start(name: str, workdir: Path, cpu: int | None, http: str) -> Running:
    port = free_port()
    command = [
        sys.executable,
        __file__,
        "--serve",
        name,
        "--port",
        str(port),
        "--workdir",
        str(workdir),
        "--http",
        http,
    ]
    if cpu is not None:
        command = ["taskset", "-c", str(cpu), *command]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    running = Running(name, port, process)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode(errors="replace") if process.stderr else ""
            raise SystemExit(f"{name} server exited with {process.returncode}:\n{error}")
        try:
            response = httpx.get(
                f"http://127.0.0.1:{port}{PATH}",
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=60,
            )
            if response.status_code == 200:
                return running
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    running.stop()
    raise SystemExit(f"{name} server did not answer within 120 s")


# -- load ------------------------------------------------------------------------


@dataclass
class Result:
    requests_per_second: float
    p99_ms: float
    #: Server CPU time (user + system) per request, in microseconds.
    cpu_us: float


@dataclass
class Samples:
    results: list[Result] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(r.requests_per_second for r in self.results)

    @property
    def p99(self) -> float:
        return statistics.median(r.p99_ms for r in self.results)

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu_us for r in self.results)


def cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def run_wrk(port: int, pid: int, args: argparse.Namespace) -> Result:
    command = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {KEY}",
        f"http://127.0.0.1:{port}{PATH}",
    ]
    if args.wrk_cpu is not None:
        command = ["taskset", "-c", str(args.wrk_cpu), *command]
    cpu_before = cpu_seconds(pid)
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, timeout=args.duration + 60
    ).stdout
    cpu_used = cpu_seconds(pid) - cpu_before

    if "Non-2xx or 3xx responses" in output or "Socket errors" in output:
        raise SystemExit(f"wrk saw failed requests:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    assert p99 is not None, output
    return Result(rps, float(p99.group(1)) * _UNITS_MS[p99.group(2)], cpu_used / requests * 1e6)


def check_same_body(servers: dict[str, Running]) -> int:
    bodies = {
        name: httpx.get(
            f"http://127.0.0.1:{running.port}{PATH}", headers={"Authorization": f"Bearer {KEY}"}
        ).content
        for name, running in servers.items()
    }
    if len(set(bodies.values())) != 1:
        raise SystemExit("the servers do not return the same body")
    return len(bodies["clstock"])


def benchmark(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: install it with 'apt-get install -y wrk'")

    with tempfile.TemporaryDirectory(prefix="clstock-http-bench-") as temp:
        workdir = Path(temp)
        write_fixture(workdir, args.stocks)

        clstock = start("clstock", workdir, args.server_cpu, args.http)
        body = httpx.get(
            f"http://127.0.0.1:{clstock.port}{PATH}", headers={"Authorization": f"Bearer {KEY}"}
        ).content
        (workdir / "body.json").write_bytes(body)
        servers = {"clstock": clstock}
        try:
            for name in SERVERS[1:]:
                servers[name] = start(name, workdir, args.server_cpu, args.http)
            size = check_same_body(servers)
            samples = {name: Samples() for name in SERVERS}
            for round_number in range(1, args.rounds + 1):
                for name in SERVERS:
                    server = servers[name]
                    warm_up = argparse.Namespace(**{**vars(args), "duration": 2})
                    run_wrk(server.port, server.process.pid, warm_up)
                    result = run_wrk(server.port, server.process.pid, args)
                    samples[name].results.append(result)
                    print(
                        f"round {round_number} {name:9s} {result.requests_per_second:9.0f} req/s  "
                        f"p99 {result.p99_ms:7.2f} ms  server CPU {result.cpu_us:6.1f} us/request",
                        flush=True,
                    )
        finally:
            for running in servers.values():
                running.stop()

    report(samples, size, args)


def uvicorn_version() -> str:
    import uvicorn

    return uvicorn.__version__


def http_parser(requested: str) -> str:
    if requested != "auto":
        return requested
    return "httptools" if importlib.util.find_spec("httptools") else "h11"


def report(samples: dict[str, Samples], size: int, args: argparse.Namespace) -> None:
    bare, ours = samples["starlette"], samples["clstock"]
    fast, full = samples["fastapi"], samples["fastapi-full"]
    of_bare = ours.rps / bare.rps
    over_fast = ours.rps / fast.rps
    over_full = ours.rps / full.rps
    print()
    print(
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; "
        f"uvicorn {uvicorn_version()} with {http_parser(args.http)}; "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, {args.rounds} rounds, "
        f"body {size} bytes"
    )
    print()
    print("| server | median req/s | median p99 (ms) | median server CPU per request (us) |")
    print("|---|---|---|---|")
    labels = {
        "clstock": "ClStock API (auth, rate limit, security headers)",
        "starlette": "bare Starlette, same bytes",
        "fastapi": "FastAPI + slowapi decorator + HTTPBearer, same bytes, no extra headers",
        "fastapi-full": (
            "FastAPI + SlowAPIMiddleware + HTTPBearer + header middleware (same features)"
        ),
    }
    for name in SERVERS:
        row = samples[name]
        print(f"| {labels[name]} | {row.rps:.0f} | {row.p99:.2f} | {row.cpu:.1f} |")
    print()
    print(f"ClStock / bare Starlette, req/s: {of_bare:.2f} (goal >= {GOAL_OF_BARE})")
    print(
        f"ClStock / FastAPI + slowapi with the same features, req/s: {over_full:.2f}x "
        f"(goal >= {GOAL_OVER_FASTAPI}x)"
    )
    print(f"ClStock / minimal FastAPI + slowapi decorator, req/s: {over_fast:.2f}x")
    # CPU per request is less sensitive to other load on the machine than
    # requests/s, so its ratios are printed as a cross-check.
    print(f"bare Starlette / ClStock, CPU per request: {bare.cpu / ours.cpu:.2f}")
    print(
        f"FastAPI + slowapi (same features) / ClStock, CPU per request: {full.cpu / ours.cpu:.2f}x"
    )
    print(f"minimal FastAPI + slowapi / ClStock, CPU per request: {fast.cpu / ours.cpu:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds per server.")
    parser.add_argument("--duration", type=int, default=10, help="Seconds of load per run.")
    parser.add_argument("--connections", type=int, default=32, help="Open connections of wrk.")
    parser.add_argument("--threads", type=int, default=1, help="Threads of wrk.")
    parser.add_argument("--stocks", type=int, default=50, help="Synthetic stocks in the universe.")
    parser.add_argument(
        "--server-cpu", type=int, default=None, help="Pin the servers to this CPU (taskset)."
    )
    parser.add_argument("--wrk-cpu", type=int, default=None, help="Pin wrk to this CPU (taskset).")
    parser.add_argument(
        "--http",
        choices=["auto", "h11", "httptools"],
        default="auto",
        help="uvicorn HTTP parser of all three servers (auto: httptools when installed).",
    )
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        UVICORN_OPTIONS["http"] = args.http
        SERVE[args.serve](args.port, args.workdir)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
