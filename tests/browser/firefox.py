"""Firefox for the bar's tests, driven over WebDriver BiDi, the W3C protocol Firefox speaks natively.

Playwright cannot drive a stock Firefox, and classic WebDriver needs
geckodriver, which Debian does not package. BiDi needs neither: Firefox
started with ``--remote-debugging-port`` listens for it on a WebSocket, and
this module speaks it with ``websockets`` (the protocol's JSON commands:
``browsingContext.*``, ``script.evaluate``, ``input.performActions``,
``log.entryAdded``).

Each :class:`Tab` lives in its own user context (its own cookies and storage,
like a fresh Playwright context). Input is real input (pointer and key actions
dispatched by the browser), not ``element.click()``.

Example::

    with Firefox.launch(tmp_path) as firefox:
        tab = firefox.new_tab()
        tab.goto("http://localhost:8001/")
        tab.click(SHADOW + "'[part~=signin]')")
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

#: Keys as WebDriver names them.
KEYS = {"Enter": "\ue007", "Escape": "\ue00c", "Tab": "\ue004", "ArrowDown": "\ue015", "ArrowUp": "\ue013",
        "Home": "\ue011", "End": "\ue010", "Space": " "}

# Quiet, offline and fast: no telemetry, update, experiment or safe-browsing
# traffic (the tests talk to loopback servers only), no first-run pages.
PREFS = {
    "app.normandy.enabled": False,
    "app.update.disabledForTesting": True,
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "extensions.update.enabled": False,
    "messaging-system.rsexperimentloader.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    # Third-party cookies blocked outright (Firefox's own default partitions them instead): the
    # cross-site hand-off must work without them (test_firefox.py proves the setting with a probe).
    "network.cookie.cookieBehavior": 1,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "services.settings.server": "data:,remote-settings-off",
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.server": "data:,telemetry-off",
}


def firefox_executable() -> str | None:
    """``ONEBAR_FIREFOX``, else Debian's ``firefox-esr``, else ``firefox``."""
    return os.environ.get("ONEBAR_FIREFOX") or shutil.which("firefox-esr") or shutil.which("firefox")


class BidiError(Exception):
    """A command the browser answered with an error."""


@dataclass
class LogEntry:
    context: str
    level: str   # "debug" | "info" | "warn" | "error"
    kind: str    # "console" | "javascript" (an uncaught error)
    text: str


@dataclass
class Firefox:
    ws: ClientConnection
    process: subprocess.Popen[bytes]
    log: list[LogEntry] = field(default_factory=list)
    _next_id: int = 0

    @classmethod
    @contextmanager
    def launch(cls, workdir: Path, timeout: float = 60.0) -> Iterator[Firefox]:
        exe = firefox_executable()
        assert exe, "no Firefox: install Debian's firefox-esr (./scripts/test does) or set ONEBAR_FIREFOX"
        profile = workdir / "profile"
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text("".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n"
                                                 for k, v in PREFS.items()))
        stderr = workdir / "firefox.log"
        with stderr.open("wb") as err:
            process = subprocess.Popen(
                [exe, "--headless", "--no-remote", "--profile", str(profile), "--remote-debugging-port=0",
                 "about:blank"], stdout=subprocess.DEVNULL, stderr=err, env={**os.environ, "MOZ_CRASHREPORTER_DISABLE": "1"})
        try:
            url = _wait_for_bidi_url(stderr, process, timeout)
            # No keepalive pings: their payload comes from the global `random`, from a
            # background thread, which would disturb other tests (Hypothesis checks it).
            with connect(url + "/session", max_size=None, open_timeout=timeout, ping_interval=None) as ws:
                firefox = cls(ws, process)
                firefox.send("session.new", capabilities={})
                firefox.send("session.subscribe", events=["log.entryAdded"])
                yield firefox
                try:
                    firefox.send("session.end")
                except Exception:  # noqa: BLE001 - closing down anyway
                    pass
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def send(self, method: str, timeout: float = 30.0, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        command_id = self._next_id
        self.ws.send(json.dumps({"id": command_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.monotonic())))
            if message.get("type") == "event":
                self._event(message)
            elif message.get("id") == command_id:
                if message.get("type") == "error":
                    raise BidiError(f"{method}: {message.get('error')}: {message.get('message')}")
                return message["result"]  # type: ignore[no-any-return]

    def _event(self, message: dict[str, Any]) -> None:
        if message["method"] == "log.entryAdded":
            p = message["params"]
            self.log.append(LogEntry(p["source"].get("context", ""), p["level"], p["type"], p.get("text") or ""))

    def new_tab(self, width: int = 1100, height: int = 700) -> Tab:
        user_context = self.send("browser.createUserContext")["userContext"]
        context = self.send("browsingContext.create", type="tab", userContext=user_context)["context"]
        self.send("browsingContext.setViewport", context=context, viewport={"width": width, "height": height})
        return Tab(self, context, user_context)


@dataclass
class Tab:
    firefox: Firefox
    context: str
    user_context: str

    def goto(self, url: str) -> None:
        self.firefox.send("browsingContext.navigate", context=self.context, url=url, wait="complete")

    def close(self) -> None:
        self.firefox.send("browsingContext.close", context=self.context)
        self.firefox.send("browser.removeUserContext", userContext=self.user_context)

    def eval(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited), through JSON; an element is ``True``."""
        result = self.firefox.send(
            "script.evaluate", target={"context": self.context}, awaitPromise=True,
            expression=f"(async () => {{ const v = await ({expression}); return JSON.stringify(v instanceof Node || v) }})()")
        if result["type"] == "exception":
            raise BidiError(f"{expression}: {result['exceptionDetails'].get('text')}")
        value = result["result"]
        return json.loads(value["value"]) if value["type"] == "string" else None

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        """Until the expression is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.eval(expression)
            except BidiError:
                value = None  # e.g. during a navigation
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            time.sleep(0.1)

    def click(self, element: str) -> None:
        """A real mouse click in the middle of the element the expression names."""
        box = self.wait_for(f"(() => {{ const e = {element}; if (!e) return null; const r = e.getBoundingClientRect();"
                            " return r.width && r.height ? [r.x + r.width / 2, r.y + r.height / 2] : null })()")
        x, y = (round(v) for v in box)
        self.firefox.send("input.performActions", context=self.context, actions=[{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "x": x, "y": y}, {"type": "pointerDown", "button": 0},
                        {"type": "pointerUp", "button": 0}]}])

    def press(self, *keys: str) -> None:
        """Key presses: names from :data:`KEYS`, or text typed character by character."""
        actions: list[dict[str, str]] = []
        for key in keys:
            for value in [KEYS[key]] if key in KEYS else list(key):
                actions += [{"type": "keyDown", "value": value}, {"type": "keyUp", "value": value}]
        self.firefox.send("input.performActions", context=self.context,
                          actions=[{"type": "key", "id": "keyboard", "actions": actions}])

    def errors(self) -> list[str]:
        """Uncaught errors and console.error lines of this tab so far."""
        return [e.text for e in self.firefox.log
                if e.context == self.context and (e.kind == "javascript" or e.level == "error")]

    def warnings(self) -> list[str]:
        return [e.text for e in self.firefox.log if e.context == self.context and e.level == "warn"]


def _wait_for_bidi_url(stderr: Path, process: subprocess.Popen[bytes], timeout: float) -> str:
    marker = "WebDriver BiDi listening on "
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in stderr.read_text(errors="replace").splitlines():
            if line.startswith(marker):
                return line[len(marker):].strip()
        if process.poll() is not None:
            raise RuntimeError(f"Firefox exited ({process.returncode}):\n{stderr.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError(f"Firefox did not offer WebDriver BiDi within {timeout:.0f} s:\n"
                       f"{stderr.read_text(errors='replace')[-2000:]}")
