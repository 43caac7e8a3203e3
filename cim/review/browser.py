"""Open a report in a real headless Chromium (Debian's package): a screenshot and the DOM after layout.

Used by the tests to prove report.html renders with no network: the flags switch off every background fetch, and
each run gets its own throw-away profile so nothing leaks between runs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import unquote

from cim.errors import CimError, ConfigError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
BASE_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")
TIMEOUT_S = 90.0
PROBE_ATTR = "data-cim-probe"


class BrowserError(CimError):
    """Chromium failed or timed out on a report."""

    stage = "browser"


def find_chromium() -> str | None:
    """Path of a Chromium binary: $CIM_CHROMIUM if set and executable, else the first one on PATH."""
    override = os.environ.get("CIM_CHROMIUM")
    if override and Path(override).is_file() and os.access(override, os.X_OK):
        return override
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


def _require() -> str:
    exe = find_chromium()
    if exe is None:
        raise ConfigError(None, "no headless Chromium found on PATH",
                          "install Debian's package: apt-get install -y chromium (or set CIM_CHROMIUM)")
    return exe


def _run(html_path: Path, extra: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """One Chromium run on a local file with a fresh profile; raises BrowserError on timeout or failure."""
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise BrowserError(html_path, "the report to open does not exist", "write the report first")
    with tempfile.TemporaryDirectory(prefix="cim-chromium-") as profile:
        cmd = [_require(), *BASE_FLAGS, f"--user-data-dir={profile}", *extra, html_path.as_uri()]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                                  env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired as exc:
            raise BrowserError(html_path, f"headless Chromium did not finish within {timeout:.0f} s",
                               "check that the machine is not overloaded; the page needs no network") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise BrowserError(html_path, f"headless Chromium exited with code {proc.returncode}: {' | '.join(tail)}",
                           "run the same chromium command by hand to see the full error")
    return proc


def screenshot(html_path: Path, png_path: Path, size: tuple[int, int] = (1280, 2400),
               timeout: float = TIMEOUT_S) -> Path:
    """Render the page at ``size`` (width, height in CSS px) into a PNG and return its path."""
    png_path = Path(png_path).resolve()
    png_path.parent.mkdir(parents=True, exist_ok=True)
    png_path.unlink(missing_ok=True)
    _run(html_path, [f"--screenshot={png_path}", f"--window-size={size[0]},{size[1]}"], timeout)
    if not png_path.is_file() or png_path.stat().st_size == 0:
        raise BrowserError(html_path, "headless Chromium wrote no screenshot", f"expected it at {png_path}")
    return png_path


def dump_dom(html_path: Path, timeout: float = TIMEOUT_S, size: tuple[int, int] = (1280, 2400)) -> str:
    """The serialised DOM after Chromium loaded and laid out the page."""
    return _run(html_path, ["--dump-dom", f"--window-size={size[0]},{size[1]}"], timeout).stdout


def evaluate(html_path: Path, expressions: dict[str, str], timeout: float = TIMEOUT_S,
             size: tuple[int, int] = (1280, 2400)) -> dict[str, str]:
    """The text value of each JavaScript expression after Chromium laid the page out.

    The report itself carries no script; a copy with a tiny probe appended is opened instead, and the probe writes
    the values into an attribute that ``--dump-dom`` serialises.
    """
    html = Path(html_path).read_text(encoding="utf-8")
    probe_lines = [
        "<script>(function(){var out=[];",
        *[f"out.push({_js_string(key)}+'='+encodeURIComponent(String((function(){{return {expr};}})())));"
          for key, expr in expressions.items()],
        f"document.body.setAttribute('{PROBE_ATTR}',out.join(';'));}})();</script>",
    ]
    probed = html.replace("</body>", "".join(probe_lines) + "</body>", 1)
    with tempfile.TemporaryDirectory(prefix="cim-probe-") as folder:
        copy = Path(folder) / "probe.html"
        copy.write_text(probed, encoding="utf-8")
        dom = dump_dom(copy, timeout=timeout, size=size)
    match = re.search(rf'{PROBE_ATTR}="([^"]*)"', dom)
    if match is None:
        raise BrowserError(html_path, "the layout probe did not run in headless Chromium",
                           "check that JavaScript is not disabled in the Chromium policy")
    return {key: unquote(value) for key, _, value in (item.partition("=") for item in match.group(1).split(";"))}


def rendered_sizes(html_path: Path, selectors: dict[str, str], timeout: float = TIMEOUT_S,
                   size: tuple[int, int] = (1280, 2400)) -> dict[str, tuple[float, float] | None]:
    """Laid-out width and height (CSS px) of the first element each selector matches, None when nothing matches."""
    expressions = {key: f"(function(e){{return e?e.getBoundingClientRect().width+'x'+"
                        f"e.getBoundingClientRect().height:'none';}})(document.querySelector({_js_string(sel)}))"
                   for key, sel in selectors.items()}
    out: dict[str, tuple[float, float] | None] = {}
    for key, value in evaluate(html_path, expressions, timeout, size).items():
        w, _, h = value.partition("x")
        out[key] = None if value == "none" else (float(w), float(h))
    return out


def page_width(html_path: Path, width: int, timeout: float = TIMEOUT_S) -> tuple[float, float]:
    """(scroll width of the whole page, viewport width) at a window ``width`` CSS px wide: a page whose content
    fits has the first no larger than the second (nothing to scroll sideways)."""
    values = evaluate(html_path, {"scroll": "document.documentElement.scrollWidth", "view": "window.innerWidth"},
                      timeout, (width, 1600))
    return float(values["scroll"]), float(values["view"])


def _js_string(text: str) -> str:
    """A JavaScript string literal safe inside a <script> element."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("<", "\\x3c").replace("\n", "\\n")
    return f"'{escaped}'"
