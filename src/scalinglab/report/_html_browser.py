"""Open a page in headless Chromium and report what a reader would see.

Drives the system's ``chromium`` through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: JSON messages ending in a NUL byte on file
descriptors 3 and 4), so nothing beyond the standard library is needed. Used by
the tests of the HTML report and to take the README's screenshot::

    python -m scalinglab.report._html_browser report/index.html docs/img/report.png
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Names the Chromium binary goes by.
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")

_PROBE = """(() => {
  const imgs = Array.from(document.images).map(i => ({
    src: i.currentSrc.slice(0, 120), alt: i.alt, complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight}));
  const sections = Array.from(document.querySelectorAll('section[id]')).map(s => s.id);
  return {title: document.title, images: imgs, sections: sections,
          height: document.documentElement.scrollHeight,
          text: document.body ? document.body.innerText : ''};
})()"""


@dataclass
class PageCheck:
    """What the browser saw: console errors, images and sections of the page."""

    title: str
    images: list[dict[str, Any]]
    sections: list[str]
    text: str
    errors: list[str] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def broken_images(self) -> list[dict[str, Any]]:
        return [i for i in self.images if not i["complete"] or i["width"] == 0]


def find_browser() -> str | None:
    """The path of a Chromium binary on PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class _Pipe:
    """A DevTools session over ``--remote-debugging-pipe``."""

    def __init__(self, browser: str, profile: str) -> None:
        # Chromium reads commands from fd 3 and writes replies and events to fd 4.
        cmd_r, self._cmd_w = os.pipe()
        self._out_r, out_w = os.pipe()

        # The child must see them as 3 and 4: move them above 10 first (either may
        # be 3 or 4 already), then duplicate them there; dup2 clears close-on-exec.
        def _fds() -> None:
            import fcntl

            a = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [
            browser,
            "--headless",
            "--remote-debugging-pipe",
            "--no-sandbox",  # root in containers; the page is our own file
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--mute-audio",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.proc = subprocess.Popen(
            args,
            preexec_fn=_fds,
            close_fds=False,  # keep 3 and 4; Python's own descriptors are close-on-exec
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(cmd_r)
        os.close(out_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def _read_message(self, deadline: float) -> dict[str, Any]:
        import select

        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium did not answer in time")
            ready, _, _ = select.select([self._out_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self._out_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return dict(json.loads(msg))

    def send(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return dict(reply.get("result", {}))
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30.0) -> dict[str, Any]:
        for i, ev in enumerate(self.events):
            if ev.get("method") == method:
                return self.events.pop(i)
        deadline = time.monotonic() + timeout
        while True:
            ev = self._read_message(deadline)
            if ev.get("method") == method:
                return ev
            self.events.append(ev)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._cmd_w)
        os.close(self._out_r)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions, failed loads and error log entries."""
    out = []
    for ev in events:
        m, p = ev.get("method"), ev.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            args = " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])
            )
            out.append(f"console.{p['type']}: {args}")
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            e = p["entry"]
            out.append(f"log: {e.get('text')} {e.get('url', '')}".strip())
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            out.append(f"load failed: {p.get('errorText')} ({p.get('type')})")
    return out


def check_page(
    page: str | os.PathLike[str],
    screenshot: str | os.PathLike[str] | None = None,
    *,
    width: int = 1280,
    height: int = 900,
    full_page: bool = False,
    browser: str | None = None,
    timeout: float = 30.0,
) -> PageCheck:
    """Load ``page`` in headless Chromium; collect errors, images and sections.

    A screenshot of the first ``height`` pixels (or of the whole page with
    ``full_page``) goes to ``screenshot`` when given.
    """
    exe = browser or find_browser()
    if exe is None:
        raise FileNotFoundError("no chromium on PATH (Debian: apt-get install chromium)")
    url = Path(page).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="sl-chromium-") as profile:
        pipe = _Pipe(exe, profile)
        try:
            target = pipe.send("Target.createTarget", {"url": "about:blank"}, timeout=timeout)
            sid = pipe.send(
                "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}
            )["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                pipe.send(f"{domain}.enable", session=sid)
            pipe.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=sid,
            )
            pipe.send("Page.navigate", {"url": url}, session=sid)
            pipe.wait_for("Page.loadEventFired", timeout=timeout)
            probe = pipe.send(
                "Runtime.evaluate", {"expression": _PROBE, "returnByValue": True}, session=sid
            )["result"]["value"]
            shot = None
            if screenshot is not None:
                params: dict[str, Any] = {"format": "png"}
                if full_page:
                    params["captureBeyondViewport"] = True
                    params["clip"] = {
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": probe["height"],
                        "scale": 1,
                    }
                data = pipe.send("Page.captureScreenshot", params, session=sid)["data"]
                shot = Path(screenshot)
                shot.parent.mkdir(parents=True, exist_ok=True)
                shot.write_bytes(base64.b64decode(data))
            # a last round trip lets late console messages arrive
            pipe.send("Runtime.evaluate", {"expression": "1"}, session=sid)
        finally:
            pipe.close()
    return PageCheck(
        title=probe["title"],
        images=probe["images"],
        sections=probe["sections"],
        text=probe["text"],
        errors=_errors(pipe.events),
        screenshot=shot,
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__)
        return 2
    res = check_page(args[0], args[1] if len(args) > 1 else None)
    print(f"{res.title}: {len(res.sections)} sections, {len(res.images)} images")
    for e in res.errors:
        print(f"error: {e}")
    for i in res.broken_images:
        print(f"broken image: {i['alt'] or i['src']}")
    return 1 if res.errors or res.broken_images else 0


if __name__ == "__main__":
    sys.exit(main())
