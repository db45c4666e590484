"""
Gunicorn settings for bench/django/server.js (which passes bind, worker class and threads on the
command line). This file adds what a command line cannot:
  * the master dies with its parent (PR_SET_PDEATHSIG), so a killed wrapper leaves nothing behind
    (workers exit by themselves when their master is gone: gunicorn checks its ppid);
  * once listening, the master prints {"port": N} on stdout for the wrapper (bind 127.0.0.1:0).
"""
import ctypes
import json
import os
import signal
import sys

accesslog = None  # access log off
errorlog = "-"
loglevel = "warning"
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
graceful_timeout = 5


def on_starting(server):
    try:
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass
    expected = os.environ.get("BENCH_WRAPPER_PID")
    if expected and os.getppid() != int(expected):
        sys.exit(1)  # the wrapper is already gone


def when_ready(server):
    port = server.LISTENERS[0].sock.getsockname()[1]
    print(json.dumps({"port": port}), flush=True)
