"""What one host call of each kind costs under Spin: the cost model of docs/performance.md.

    spin up -f tests/fixtures/probe-app/spin.toml \\
        --runtime-config-file tests/fixtures/probe-app/runtime-config.toml --listen 127.0.0.1:3001
    python3 tests/benches/host_calls.py [CALLS] [REQUESTS]      (defaults 20 1500)

(with SPIN_VARIABLE_WHO set to anything). The probe component's `/probe/cost/{kind}/{n}`
makes n calls of one kind in one request. Sequential requests on one keep-alive connection,
with TCP_QUICKACK so that no response waits for a delayed ACK; a kind's cost per call is the
difference of the medians of n = CALLS and n = 0, divided by CALLS. The n = 0 row is what a
request costs with no host call: Spin's listener, an instance call and the probe's reply.

Where wrk is installed, a second column says what a call costs under load: 16 keep-alive
clients for 4 s at n = 0 and n = 4, and the difference of the time per request (the inverse
of the throughput) divided by 4. On 2 cores that is about half the processor time a call
takes, and it includes the host's threads handing work to each other.
"""

import re
import shutil
import socket
import statistics
import subprocess
import sys
import time

TCP_QUICKACK = 12  # Linux
KINDS = ["kv", "kv-write", "sqlite", "chain", "clock", "log", "variable", "timer", "yield", "headers"]


def timings(connection, path, count):
    times = []
    for _ in range(count):
        request = f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
        started = time.perf_counter()
        connection.sendall(request)
        received = b""
        while True:
            connection.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
            chunk = connection.recv(65536)
            if not chunk:
                raise SystemExit(f"{path}: connection closed")
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            length = [
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ]
            if length and len(body) >= length[0]:
                break
        if not head.startswith(b"HTTP/1.1 200") or b"Error" in body or b"bail" in body:
            raise SystemExit(f"{path}: {head.splitlines()[0]!r} {body[:200]!r}")
        times.append((time.perf_counter() - started) * 1000)
    return times


def loaded_us_per_request(path):
    """Microseconds per request with 16 clients (wrk), or None without wrk."""
    if shutil.which("wrk") is None:
        return None
    output = subprocess.run(
        ["wrk", "-t2", "-c16", "-d4s", f"http://127.0.0.1:3001{path}"],
        capture_output=True, text=True, check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([0-9.]+)", output).group(1))
    return 1e6 / rate


def main():
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
    connection = socket.create_connection(("127.0.0.1", 3001))
    base = lambda kind, n: f"/probe/cost/{kind}/{n}"
    timings(connection, base("none", 0), 200)  # warm the instances
    empty = statistics.median(timings(connection, base("none", 0), requests))
    loaded_empty = loaded_us_per_request(base("none", 0))
    print(f"{calls} calls per request, {requests} requests per row, one keep-alive connection")
    print(f"{'kind':10} {'request ms':>11} {'per call us':>12} {'16 clients: per call us':>24}")
    loaded = "-" if loaded_empty is None else f"{loaded_empty:.1f} per request"
    print(f"{'none':10} {empty:11.3f} {'-':>12} {loaded:>24}")
    for kind in KINDS:
        timings(connection, base(kind, calls), 50)
        median = statistics.median(timings(connection, base(kind, calls), requests))
        per_call = (median - empty) * 1000 / calls
        loaded = loaded_us_per_request(base(kind, 4))
        loaded = "-" if loaded is None else f"{(loaded - loaded_empty) / 4:.1f}"
        print(f"{kind:10} {median:11.3f} {per_call:12.1f} {loaded:>24}")


if __name__ == "__main__":
    main()
