"""Ctrl-C ends a command that runs until interrupted, even when Python drops its exception."""

from __future__ import annotations

import subprocess
import sys
import textwrap

# A loop as `logs --follow` and `up --watch` run it, and a Ctrl-C that arrives while a finalizer
# runs: Python reports the KeyboardInterrupt raised there as "Exception ignored" and goes on.
LOOP = textwrap.dedent(
    """
    import os, signal, sys
    from orderpoc import interrupts
    interrupts.install()

    class Collected:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(1000):  # the handler runs in here, and its exception is dropped
                pass

    try:
        for _ in range(100):
            Collected()
            print("went on", flush=True)
            interrupts.sleep(0.05)
    except KeyboardInterrupt:
        print("stopped")
        sys.exit(0)
    sys.exit(1)
    """
)


def test_a_ctrl_c_lost_in_a_finalizer_still_stops_the_loop() -> None:
    result = subprocess.run([sys.executable, "-c", LOOP], capture_output=True, text=True, timeout=60)
    assert "Exception ignored" in result.stderr and "KeyboardInterrupt" in result.stderr  # it was lost...
    assert result.stdout.splitlines() == ["went on", "stopped"]  # ...and the next wait ended the loop
    assert result.returncode == 0
