"""Screenshots of a page in headless Chromium (no driver: its --screenshot switch)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from bridge.errors import ConfigError

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    """$NPC_CHROMIUM, else the first Chromium or Chrome on PATH; None when there is none."""
    chosen = os.environ.get("NPC_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(
    url: str, out: Path, size: tuple[int, int] = (800, 600), budget_ms: int = 4000,
    timeout: float = 60.0,
) -> Path:  # fmt: skip
    """Load `url`, let its scripts run for `budget_ms` of virtual time, write a PNG."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    done = _chromium(url, [f"--screenshot={out.resolve()}"], size, budget_ms, timeout)
    if not out.is_file():
        tail = "\n".join(done.stderr.splitlines()[-5:])
        raise ConfigError(f"Chromium wrote no screenshot of {url} (exit {done.returncode}):"
                          f"\n{tail}")  # fmt: skip
    return out


def dom(url: str, budget_ms: int = 4000, timeout: float = 60.0) -> str:
    """The page's HTML after its scripts ran for `budget_ms` of virtual time."""
    return _chromium(url, ["--dump-dom"], (800, 600), budget_ms, timeout).stdout


def _chromium(
    url: str, what: list[str], size: tuple[int, int], budget_ms: int, timeout: float
) -> subprocess.CompletedProcess[str]:
    browser = find_chromium()
    if browser is None:
        raise ConfigError("no headless Chromium found (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="npc-chromium-") as profile:
        args = [
            browser, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
            f"--virtual-time-budget={budget_ms}", *what, url,
        ]  # fmt: skip
        try:
            proc = subprocess.Popen(
                args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                start_new_session=True,
            )  # fmt: skip
        except OSError as e:
            raise ConfigError(f"{browser} failed on {url}: {e}") from e
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as e:
            os.killpg(proc.pid, signal.SIGKILL)  # the browser and every helper it started
            proc.communicate()
            raise ConfigError(f"{browser} took over {timeout:.0f} s on {url}") from e
    return subprocess.CompletedProcess(args, proc.returncode, out, err)
