#!/usr/bin/env python3
"""A TCP proxy for system tests: relays 127.0.0.1:LISTEN to 127.0.0.1:TARGET and holds each
answer back by DELAY seconds (the first bytes the target sends after the client last sent
some), so a peer is made slow by a known amount without changing it. `--fail` answers every
request with a 500 JSON body instead of relaying (a peer that is up but broken). Prints "ready"
once listening.
"""
import argparse
import socket
import sys
import threading
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args()

    def failing(client):
        with client:
            data = b""
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    return
                data += chunk
                while b"\r\n\r\n" in data:
                    head, _, data = data.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip())
                    while len(data) < length:
                        more = client.recv(65536)
                        if not more:
                            return
                        data += more
                    data = data[length:]
                    body = b'{"detail":"Internal Server Error"}'
                    client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)

    def relay(client):
        try:
            upstream = socket.create_connection(("127.0.0.1", args.target))
        except OSError:
            client.close()
            return
        state = {"asked": False}
        lock = threading.Lock()

        def forward(source, sink, answering):
            try:
                while True:
                    chunk = source.recv(65536)
                    if not chunk:
                        break
                    if answering:
                        with lock:
                            hold = state["asked"]
                            state["asked"] = False
                        if hold and args.delay:
                            time.sleep(args.delay)
                    else:
                        with lock:
                            state["asked"] = True
                    sink.sendall(chunk)
            except OSError:
                pass
            finally:
                for sock in (source, sink):
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=forward, args=(client, upstream, False), daemon=True).start()
        threading.Thread(target=forward, args=(upstream, client, True), daemon=True).start()

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", args.listen))
    server.listen(64)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        threading.Thread(target=failing if args.fail else relay, args=(client,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
