"""A headless Chromium driven over the DevTools protocol, with only the standard library:
a WebSocket client (RFC 6455, just what the protocol needs) and a few commands.

Used by the HTML report's browser test, and to take the README's screenshot:

    python -m tests.browser REPORT.html OUT.png [WIDTH HEIGHT]
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
START_SECONDS = 30
COMMAND_SECONDS = 60


def find_browser() -> str | None:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


class WebSocket:
    """A client WebSocket over a plain TCP connection (the DevTools endpoint is local)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=COMMAND_SECONDS)
        key = base64.b64encode(secrets.token_bytes(16)).decode()
        request = (
            f"GET {parts.path} HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("the browser closed the connection during the handshake")
            response += chunk
        head, _, self.pending = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def _read(self, count: int) -> bytes:
        while len(self.pending) < count:
            chunk = self.sock.recv(max(65536, count - len(self.pending)))
            if not chunk:
                raise ConnectionError("the browser closed the connection")
            self.pending += chunk
        data, self.pending = self.pending[:count], self.pending[count:]
        return data

    def send(self, text: str) -> None:
        payload = text.encode()
        header = bytes([0x81])  # FIN, text
        length = len(payload)
        if length < 126:
            header += bytes([0x80 | length])
        elif length < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", length)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", length)
        mask = secrets.token_bytes(4)  # a client masks every frame
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            opcode, length = first & 0x0F, second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(length)
            if opcode == 0x8:
                raise ConnectionError("the browser closed the connection")
            if opcode == 0x9:  # ping: answer, and go on waiting for the message
                self.sock.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                continue
            message += payload
            if first & 0x80:
                return message.decode()

    def close(self) -> None:
        self.sock.close()


@dataclass
class Page:
    """One tab, attached with a flat session: commands and the events they caused."""

    socket: WebSocket
    session: str
    events: list[dict[str, Any]] = field(default_factory=list)
    counter: int = 0

    def command(self, method: str, **params: Any) -> dict[str, Any]:
        self.counter += 1
        ident = self.counter
        self.socket.send(
            json.dumps({"id": ident, "method": method, "params": params, "sessionId": self.session})
        )
        while True:
            message = json.loads(self.socket.receive())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def wait_for(self, method: str, seconds: float = COMMAND_SECONDS) -> None:
        deadline = time.monotonic() + seconds
        if any(event["method"] == method for event in self.events):
            return
        while time.monotonic() < deadline:
            message = json.loads(self.socket.receive())
            if "method" in message:
                self.events.append(message)
                if message["method"] == method:
                    return
        raise TimeoutError(f"no {method} within {seconds} s")

    def goto(self, url: str) -> None:
        """Load `url` and wait for its load event (the events so far are dropped)."""
        self.events.clear()
        self.command("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> Any:
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def problems(self) -> list[str]:
        """Console messages, uncaught exceptions and browser log entries (a refused
        fetch, a Content-Security-Policy violation): anything the page said went wrong."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                args = [str(a.get("value", a.get("description", ""))) for a in params["args"]]
                found.append(f"console.{params['type']}: {' '.join(args)}")
            elif method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails'].get('text')}")
            elif method == "Log.entryAdded":
                entry = params["entry"]
                found.append(f"log {entry['level']} ({entry['source']}): {entry['text']}")
        return found

    def screenshot(self, path: Path, width: int, height: int) -> None:
        self.command(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
            mobile=False,
        )  # fmt: skip
        data = self.command("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))


class Browser:
    """A headless Chromium with its own profile, stopped (and its profile removed) on exit."""

    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="pgvitals-browser-")
        arguments = [
            executable, "--headless", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}", "--hide-scrollbars",
            # nothing on the network: a page that tries anyway shows it in the log
            "--host-resolver-rules=MAP * ~NOTFOUND", "about:blank",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            arguments.insert(1, "--no-sandbox")  # Chromium refuses root with its sandbox
        self.process = subprocess.Popen(
            arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        self.socket = WebSocket(self._endpoint())
        self.counter = 0

    def _endpoint(self) -> str:
        deadline = time.monotonic() + START_SECONDS
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                return match.group(1)
            if not line and self.process.poll() is not None:
                break
        raise RuntimeError("Chromium did not start its DevTools endpoint")

    def _browser_command(self, method: str, **params: Any) -> dict[str, Any]:
        self.counter += 1
        ident = -self.counter  # the pages count upwards; no clash
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.receive())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def open(self, url: str, width: int = 1366, height: int = 900) -> Page:
        target = self._browser_command("Target.createTarget", url="about:blank")["targetId"]
        session = self._browser_command("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        page = Page(self.socket, session)
        for domain in ("Runtime", "Log", "Page"):
            page.command(f"{domain}.enable")
        page.command(
            "Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
            mobile=False,
        )  # fmt: skip
        page.goto(url)
        return page

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(arguments: list[str]) -> None:
    report, out = Path(arguments[0]).resolve(), Path(arguments[1])
    width, height = (int(arguments[2]), int(arguments[3])) if len(arguments) > 3 else (1366, 900)
    executable = find_browser()
    if executable is None:
        raise SystemExit("no Chromium found")
    with Browser(executable) as browser:
        page = browser.open(report.as_uri(), width, height)
        page.screenshot(out, width, height)
        for problem in page.problems():
            print(problem, file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
