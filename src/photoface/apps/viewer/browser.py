"""Headless Chromium driven over the DevTools protocol: open a page, act on it like a user, take
screenshots, collect console errors. Used by the viewer's browser test and its docs screenshot.

The protocol travels over a pipe (``--remote-debugging-pipe``: JSON messages ended by a NUL
byte, Chromium reads fd 3 and writes fd 4), so no websocket client is needed and no port is
opened. WebGL runs without a GPU on SwiftShader.
"""

from __future__ import annotations

import base64
import fcntl
import io
import json
import os
import select
import shutil
import signal
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from photoface.errors import PhotofaceError
from photoface.jsonfile import json_text

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--hide-scrollbars", "--mute-audio")


def find_chromium() -> str | None:
    """The Chromium executable: ``$PHOTOFACE_CHROMIUM`` or the first of CANDIDATES on the PATH."""
    env = os.environ.get("PHOTOFACE_CHROMIUM")
    if env:
        return env
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """One headless Chromium with one page; use as a context manager.

    Args:
        width, height: the viewport in CSS px.
        timeout: seconds any one command may take.
    """

    def __init__(self, width: int = 1200, height: int = 800, timeout: float = 60.0, executable: str | None = None):
        exe = executable or find_chromium()
        if exe is None:
            raise PhotofaceError("no Chromium found (install the distribution's `chromium` package or set PHOTOFACE_CHROMIUM)")
        self.timeout = timeout
        self.pid: int | None = None
        self.events: list[dict] = []
        self._profile = tempfile.TemporaryDirectory(prefix="photoface-chromium-")
        self._log = open(Path(self._profile.name) / "stderr.log", "wb")  # closed in close()
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()
        # Chromium reads fd 3 and writes fd 4; the pipe ends are first moved above 9, so that
        # neither dup2 overwrites the other's source
        child_in, child_out = (fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_chrome_r, from_chrome_w))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        devnull = os.open(os.devnull, os.O_RDWR)
        args = [exe, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}", "about:blank"]
        try:
            self.pid = os.posix_spawn(exe, args, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0), (os.POSIX_SPAWN_DUP2, devnull, 1),
                (os.POSIX_SPAWN_DUP2, self._log.fileno(), 2),
                (os.POSIX_SPAWN_DUP2, child_in, 3), (os.POSIX_SPAWN_DUP2, child_out, 4)])
        finally:
            for fd in (child_in, child_out, devnull):
                os.close(fd)
        self._buffer = b""
        self._next_id = 0
        try:
            targets = self._call("Target.getTargets")["targetInfos"]
            page = next(t for t in targets if t["type"] == "page")
            self.session = self._call("Target.attachToTarget", targetId=page["targetId"], flatten=True)["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                self.call(f"{domain}.enable")
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.pid is not None:
            try:
                self._send({"id": -1, "method": "Browser.close"})
            except PhotofaceError:
                pass  # gone already
            deadline = time.monotonic() + 10
            while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
                    break
                time.sleep(0.05)
            self.pid = None
        for fd in (self._to_chrome, self._from_chrome):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()

    def _last_words(self) -> str:
        self._log.flush()
        lines = (Path(self._profile.name) / "stderr.log").read_text(errors="replace").splitlines()
        return " | ".join(lines[-5:]) or "(nothing on stderr)"

    # ---- protocol ----

    def _send(self, message: dict) -> None:
        try:
            os.write(self._to_chrome, json_text(message).encode() + b"\0")
        except OSError as exc:
            raise PhotofaceError(f"Chromium closed the DevTools pipe ({exc.strerror}); its last words: "
                                 f"{self._last_words()}") from None

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_chrome], [], [], left)[0]:
                raise PhotofaceError(f"Chromium did not answer in {self.timeout:g} s; its last words: {self._last_words()}")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise PhotofaceError(f"Chromium closed the DevTools pipe; its last words: {self._last_words()}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _call(self, method: str, session: str | None = None, **params) -> dict:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self._send(msg)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise PhotofaceError(f"Chromium {method}: {reply['error'].get('message')}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def call(self, method: str, **params) -> dict:
        """One DevTools command on the page; returns its result."""
        return self._call(method, self.session, **params)

    # ---- what a test or a script does with the page ----

    def open(self, url: str) -> None:
        """Load ``url`` and wait for its load event."""
        start = len(self.events)
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + self.timeout
        while not any(e["method"] == "Page.loadEventFired" for e in self.events[start:]):
            self.events.append(self._receive(deadline))

    def evaluate(self, expression: str):
        """The value of a JavaScript expression in the page, promises awaited; page exceptions raise."""
        r = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise PhotofaceError(f"page error: {d.get('exception', {}).get('description') or d.get('text')}")
        return r["result"].get("value")

    def rect(self, selector: str) -> tuple[float, float, float, float]:
        """(x, y, width, height) in CSS px of the first element matching ``selector``."""
        return tuple(self.evaluate(
            f"(() => {{ const r = document.querySelector({json_text(selector)}).getBoundingClientRect();"
            " return [r.x, r.y, r.width, r.height]; })()"))

    def screenshot(self, clip: tuple[float, float, float, float] | None = None) -> np.ndarray:
        """(H, W, 3) uint8 of the viewport, or of ``clip`` (x, y, width, height) CSS px."""
        params: dict = {"format": "png"}
        if clip is not None:
            x, y, w, h = clip
            params["clip"] = {"x": x, "y": y, "width": w, "height": h, "scale": 1}
        data = base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))

    def mouse(self, kind: str, x: float, y: float, **extra) -> None:
        self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)

    def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            self.mouse(kind, x, y, button="left", clickCount=1)

    def drag(self, x0: float, y0: float, x1: float, y1: float, steps: int = 8) -> None:
        self.mouse("mousePressed", x0, y0, button="left", clickCount=1)
        for i in range(1, steps + 1):
            self.mouse("mouseMoved", x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps, button="left")
        self.mouse("mouseReleased", x1, y1, button="left", clickCount=1)

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        self.mouse("mouseWheel", x, y, deltaX=0, deltaY=delta_y)

    def console_errors(self) -> list[str]:
        """Every console error, uncaught exception and error log entry of the page so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif e.get("method") == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
            elif e.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", ""))
        return out


def file_url(path: str | Path) -> str:
    return Path(path).resolve().as_uri()
