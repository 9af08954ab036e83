"""
Run inside a lab host: exercise the blocking facade's thread behaviour with
real services, and print one JSON object of findings.
"""

import _thread
import faulthandler
import json
import signal
import threading
import time
from queue import Queue

from ssdp_upnp._runtime import runtime
from ssdp_upnp.errors import FacadeError
from ssdp_upnp.ssdp import Client, Nat, Server

found = {}
# a hang prints every thread's stack (the test shows the last lines) instead of a bare timeout
faulthandler.dump_traceback_later(90, exit=True)
# step 5 simulates Ctrl-C: that needs Python's SIGINT handler, which a process started with
# SIGINT ignored (a background job of a non-interactive shell, e.g. `.ci/run &`) lacks
signal.signal(signal.SIGINT, signal.default_int_handler)


def udp_sockets_on(port):
    hexport = f":{port:04X} "
    with open("/proc/self/net/udp") as f:
        return sum(1 for line in f if hexport in line.split(None, 3)[1] + " ")


def own_threads():
    return sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())


# 1. stop before start, twice
print("step 1", flush=True)
server = Server(8048, "blockchain", "main")
client = Client("blockchain", "main", Queue())
server.stop()
server.stop()
client.stop()
found["stop_before_start"] = "ok"

# 2. repeated start/stop cycles
print("step 2", flush=True)
cycles = []
for _ in range(3):
    server.start()
    assert server.started.wait(20), "server did not start"
    assert server.error is None, server.error
    alive = server.is_alive() and udp_sockets_on(1900) == 1
    server.stop()
    server.join(20)
    cycles.append(alive and not server.is_alive())
found["cycles"] = cycles
found["sockets_after_cycles"] = udp_sockets_on(1900)

# 3. start and stop from several threads at once
print("step 3", flush=True)


def all_at_once(f, n=6):
    barrier = threading.Barrier(n)

    def call():
        barrier.wait()
        f()

    threads = [threading.Thread(target=call) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


all_at_once(server.start)
server.started.wait(20)
found["concurrent_start_sockets"] = udp_sockets_on(1900)
all_at_once(server.stop)
server.join(20)
found["concurrent_stop_sockets"] = udp_sockets_on(1900)

# 4. run() in a thread, stopped from another
print("step 4", flush=True)
runner = threading.Thread(target=client.run)
runner.start()
client.started.wait(20)
found["client_run_sockets"] = udp_sockets_on(1900)
threading.Timer(0.2, client.stop).start()
runner.join(20)
found["run_returned"] = not runner.is_alive()

# 5. KeyboardInterrupt in run()
print("step 5", flush=True)
threading.Timer(1.0, _thread.interrupt_main).start()
try:
    server.run()
    found["keyboard_interrupt"] = "not raised"
except KeyboardInterrupt:
    found["keyboard_interrupt"] = "raised"
found["sockets_after_interrupt"] = udp_sockets_on(1900)

# 6. the facade refuses to run inside the reactor thread
print("step 6", flush=True)
outcome = []


def inside():
    try:
        Nat(timeout=2).addPortForward(8011, 8015)
        outcome.append("no error")
    except FacadeError as e:
        outcome.append(f"FacadeError: {e}")


runtime.reactor.callFromThread(inside)
deadline = time.monotonic() + 10
while not outcome and time.monotonic() < deadline:
    time.sleep(0.05)
found["inside_reactor"] = outcome[0] if outcome else "no answer"

# 7. of start() and stop() the last call wins: start(); stop(); start() serves
print("step 7", flush=True)


def settles_at(count, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if udp_sockets_on(1900) == count and (count == 0) != server.is_alive():
            return True
        time.sleep(0.05)
    return False


last_wins = []
for _ in range(10):
    server.start()
    server.stop()
    server.start()
    last_wins.append(settles_at(1))
    server.stop()
    last_wins.append(settles_at(0))
found["last_call_wins"] = last_wins


def start_stop_start():
    server.start()
    server.stop()
    server.start()


all_at_once(start_stop_start, n=4)
found["last_call_wins_threads"] = settles_at(1)
server.stop()
server.join(20)
found["sockets_after_last_wins"] = udp_sockets_on(1900)

# 8. what is left: only the reactor thread, no SSDP socket
print("step 8", flush=True)
found["threads_left"] = own_threads()
found["sockets_left"] = udp_sockets_on(1900)
print(json.dumps(found), flush=True)
