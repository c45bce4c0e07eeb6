"""How the command line fails: one line and an exit code; a full disk says what is safe and
how to go on; unwritable places are refused before any work; a traceback only on request."""

import errno
import subprocess
import sys

import pytest

import discovery.run
from discovery.cli import main
from discovery.config import preset
from discovery.rundir import RunDir


@pytest.fixture
def run(tmp_path):
    return RunDir.create(tmp_path / "runs" / "r", "discover", preset("quickstart").to_dict())


def _fail_with(monkeypatch, error):
    def run_discovery(*args, **kwargs):
        raise error
    monkeypatch.setattr(discovery.run, "run_discovery", run_discovery)


@pytest.mark.parametrize("error", [
    OSError(errno.ENOSPC, "No space left on device", "/runs/r/metrics.jsonl"),
    ValueError("RESOURCE_EXHAUSTED: Error writing local file \"/runs/r/checkpoints/4/d/x\": "
               "No space left on device\n[source locations]"),
])
def test_a_full_disk_is_one_line_saying_nothing_is_lost_and_how_to_go_on(run, monkeypatch,
                                                                          capsys, error):
    _fail_with(monkeypatch, error)
    assert main(["discover", "--resume", str(run.path)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rldisco discover: error: no space left")
    assert "nothing before the last checkpoint was lost" in lines[0]
    assert lines[0].endswith(f"continue with: rldisco discover --resume {run.path}")


def test_an_unexpected_error_is_one_line_and_a_traceback_only_with_debug(run, monkeypatch,
                                                                         capsys):
    _fail_with(monkeypatch, RuntimeError("XLA went sideways\nlots of detail"))
    assert main(["discover", "--resume", str(run.path)]) == 1
    err = capsys.readouterr().err
    assert err == ("rldisco discover: error: RuntimeError: XLA went sideways (run with --debug "
                   "for the traceback)\n")
    with pytest.raises(RuntimeError):
        main(["discover", "--resume", str(run.path), "--debug"])
    monkeypatch.setenv("RLDISCO_DEBUG", "1")
    with pytest.raises(RuntimeError):
        main(["discover", "--resume", str(run.path)])


def test_a_new_run_that_fails_before_any_work_leaves_no_directory(tmp_path, monkeypatch,
                                                                 capsys):
    _fail_with(monkeypatch, RuntimeError("boom"))
    args = ["discover", "--runs-dir", str(tmp_path), "--name", "x", "es.population_size=4"]
    assert main(args) == 1
    assert not (tmp_path / "x").exists()
    _fail_with(monkeypatch, KeyboardInterrupt())
    assert main(args) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "rldisco discover: interrupted"


# As root, the child first gives up the power to ignore file permissions (CAP_DAC_OVERRIDE, via
# prctl(PR_CAPBSET_DROP)), so that a read-only directory is read-only for it too.
AS_USER = """import ctypes, os, sys
if os.geteuid() == 0:
    assert ctypes.CDLL(None, use_errno=True).prctl(24, 1, 0, 0, 0) == 0
os.execv(sys.executable, [sys.executable, "-m", "discovery.cli", *sys.argv[1:]])"""


@pytest.mark.parametrize("command,message", [
    (["discover", "--resume", "{run}"], "resuming writes metrics and checkpoints"),
    (["evaluate", "{run}", "--envs", "CartPole-v1"], "evaluation writes eval/ and plots/"),
    (["discover", "--runs-dir", "{runs}/new"], "runs are written there"),
    (["train", "--env", "CartPole-v1", "--runs-dir", "{runs}"], "runs are written there"),
])
def test_a_read_only_place_is_refused_before_any_work(run, command, message):
    runs = run.path.parent
    args = [a.format(run=run.path, runs=runs) for a in command]
    for path in (run.path, runs):
        path.chmod(0o555)
    try:
        done = subprocess.run([sys.executable, "-c", AS_USER, *args], capture_output=True,
                              text=True, timeout=120)
    finally:
        for path in (run.path, runs):
            path.chmod(0o755)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-2000:]
    assert "is not writable (Permission denied)" in lines[0] and message in lines[0]
