"""Sequential requests on one keep-alive connection, timed per request, with and without
TCP_QUICKACK on the client: tells a server that sends a response in two writes (Nagle on its
socket, waiting for an ACK the client delays up to 40 ms) from one that is slow.

    python3 tests/benches/keepalive.py [BASE_PATH_WITH_{i}] [COUNT]   (defaults /movies/m{i} 60)

Against `spin up` on 127.0.0.1:3000 with 100 movies seeded (docs/performance.md). Sends
`Cache-Control: no-cache`, so every movie view is composed.
"""

import socket
import sys
import time

TCP_QUICKACK = 12  # Linux


def run(path, count, quickack):
    connection = socket.create_connection(("127.0.0.1", 3000))
    times = []
    for i in range(count):
        request = (
            f"GET {path.format(i=i % 100)} HTTP/1.1\r\nHost: localhost\r\n"
            "Cache-Control: no-cache\r\n\r\n"
        )
        started = time.perf_counter()
        connection.sendall(request.encode())
        received = b""
        while True:
            if quickack:
                connection.setsockopt(socket.IPPROTO_TCP, TCP_QUICKACK, 1)
            received += connection.recv(65536)
            head, _, body = received.partition(b"\r\n\r\n")
            length = [
                line.split(b":")[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ]
            if length and len(body) >= int(length[0]):
                break
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    label = "with TCP_QUICKACK" if quickack else "plain"
    print(f"{path} {label}: p50 {times[count // 2]:.2f} ms, p90 {times[int(count * 0.9)]:.2f} ms")


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "/movies/m{i}"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    run(path, count, quickack=False)
    run(path, count, quickack=True)
