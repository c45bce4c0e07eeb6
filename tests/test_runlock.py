"""One writer per run directory: a second process is refused at once with the holder named, a
killed holder never leaves a stale lock, and a process may re-enter its own lock."""

import fcntl
import json
import os
import signal
import socket
import subprocess
import sys

import pytest

from discovery.runlock import LOCK_FILE, RunLock, RunLockedError


def test_a_held_run_is_refused_naming_the_holder(tmp_path):
    fd = os.open(tmp_path / LOCK_FILE, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, json.dumps({"host": "node-7", "pid": 4242, "since": 0.0,
                             "command": "rldisco discover --resume x"}).encode())
    with pytest.raises(RunLockedError) as refused:
        RunLock(tmp_path).acquire()
    message = str(refused.value)
    assert "in use by pid 4242 on node-7 since 1970-01-01" in message
    assert "(rldisco discover --resume x)" in message and "\n" not in message
    os.close(fd)
    with RunLock(tmp_path) as lock:
        assert lock.held
    assert not lock.held


def test_the_holder_writes_who_it_is_and_may_take_its_lock_again(tmp_path):
    with RunLock(tmp_path):
        info = json.loads((tmp_path / LOCK_FILE).read_text())
        assert info["pid"] == os.getpid() and info["host"] == socket.gethostname()
        with RunLock(tmp_path) as inner:  # re-entrant within the process
            assert inner.held
        assert RunLock(tmp_path).held
    assert not RunLock(tmp_path).held


def test_a_sigkilled_holder_leaves_no_stale_lock(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from discovery.runlock import RunLock; "
         f"RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=f"pid {holder.pid} on "):
            RunLock(tmp_path).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with RunLock(tmp_path) as lock:  # at once: the OS released it with the process
        assert lock.held
