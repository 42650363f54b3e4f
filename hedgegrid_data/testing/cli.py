"""Run the ``hedgegrid-data`` command line as a user does: a child process writing to a pipe, or to a
pseudo-terminal (so it draws its live display)."""

from __future__ import annotations

import errno
import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

COMMAND = [sys.executable, "-m", "hedgegrid_data.cli"]  # what the console script runs, in this interpreter


@dataclass(frozen=True)
class CliRun:
    returncode: int
    output: str  # stdout (and, on a terminal, stderr too: both go to the terminal)
    stderr: str = ""


def run_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path, terminal: bool = False,
            columns: int = 160) -> CliRun:
    """``hedgegrid-data <args>`` in a child process; on a ``terminal`` of ``columns`` columns, else with pipes."""
    command = [*COMMAND, *args]
    if not terminal:
        done = subprocess.run(command, env=dict(env), cwd=cwd, capture_output=True, text=True, check=False)
        return CliRun(done.returncode, done.stdout, done.stderr)
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    sized = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}  # the terminal's own size rules
    process = subprocess.Popen(command, env={**sized, "TERM": "xterm-256color"}, cwd=cwd, stdin=child,
                               stdout=child, stderr=child, close_fds=True)
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError as exc:  # EIO: the child closed the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return CliRun(process.wait(), b"".join(chunks).decode("utf-8", "replace"))
