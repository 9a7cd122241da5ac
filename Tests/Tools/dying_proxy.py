#!/usr/bin/env python3
"""A TCP proxy for one system test: relays 127.0.0.1:LISTEN to 127.0.0.1:TARGET until the
client sends its Nth request whose path ends in PATTERN; then it kills the process PID with
SIGKILL (before relaying that request) and goes on relaying whatever comes, to a dead target.

So "the target died right after answering the first reservation" happens at an exact point,
not after a sleep. It prints "ready" once listening and "killed" when it has killed.
"""
import argparse
import os
import select
import signal
import socket
import sys
import threading


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--pid", type=int, required=True)
    parser.add_argument("--pattern", default="/reserve HTTP/1.1")
    parser.add_argument("--nth", type=int, default=2)
    args = parser.parse_args()

    seen = {"count": 0, "killed": False}
    lock = threading.Lock()

    def relay(client):
        try:
            upstream = socket.create_connection(("127.0.0.1", args.target), timeout=5)
        except OSError:
            client.close()
            return
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 30)
                if not readable:
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        with lock:
                            seen["count"] += data.count(args.pattern.encode())
                            if seen["count"] >= args.nth and not seen["killed"]:
                                os.kill(args.pid, signal.SIGKILL)
                                seen["killed"] = True
                                print("killed", flush=True)
                                return
                        upstream.sendall(data)
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            client.close()
            upstream.close()

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.listen))
    server.listen(64)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=relay, args=(client,), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
