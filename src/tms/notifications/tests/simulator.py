"""A loopback Africa's Talking simulator: a real HTTP server speaking AFRICASTALKING.md.

Tests start it and point the real ``AfricasTalkingGateway`` at it; nothing of our
own client is mocked. It checks every send request as AT documents it, answers
with AT's JSON, records each accepted message (to count duplicates after crash
tests) and can post delivery reports back.

In a test::

    with AtSimulator(api_key="k") as sim:
        gateway = AfricasTalkingGateway("user", "k", base_url=sim.base_url)
        sim.fail_next(1, http_status=503)

As a process (crash tests, benchmarks); the first line printed is the port::

    python -m tms.notifications.tests.simulator --port 0 --api-key K \\
        [--callback URL] [--dump records.jsonl]

    GET  /__sim__/stats            counts: requests, accepted, duplicates, reports...
    GET  /__sim__/records?offset=0&limit=1000[&number=+254...]
    POST /__sim__/mode             JSON: the keyword arguments of ``set_mode``
    POST /__sim__/fail_next        JSON: {"n": 2, "http_status": 500, "delay": 0}
    POST /__sim__/reports          JSON: the keyword arguments of ``configure_reports``
    POST /__sim__/deliver          JSON: the keyword arguments of ``deliver``
    POST /__sim__/reset

How it answers a send request (``POST /version1/messaging``), in this order:

- another path: 404; another method: 405;
- ``apiKey`` header missing or wrong (or a ``username`` other than the configured
  one): 401 with AT's plain-text ``The supplied authentication is invalid``;
- ``Accept`` without ``application/json``: 406; a body that is not
  ``application/x-www-form-urlencoded``: 415; ``username``, ``to`` or ``message``
  missing or empty: 400 (plain text naming the field);
- then any failure it was told to inject (``fail_next`` first, then ``set_mode``);
- otherwise 201 with one entry per number in ``to``: 101 Success, or 403
  InvalidPhoneNumber for a number that is not E.164, 402 InvalidSenderId for a
  ``from`` outside ``sender_ids`` (when given), or the code set for that number.
  Each accepted number costs ``KES 0.80`` a segment (counted by ``segments.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

import httpx

from tms.notifications import segments

SEND_PATH = "/version1/messaging"
CONTROL_PREFIX = "/__sim__/"
AUTH_FAILED = "The supplied authentication is invalid"
COST_PER_SEGMENT = Decimal("0.80")
CURRENCY = "KES"

STATUS_NAMES = {
    100: "Processed",
    101: "Success",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
ACCEPTED_CODES = frozenset({100, 101, 102})
FAILED_REPORT_STATUSES = frozenset({"Rejected", "Failed", "AbsentSubscriber", "Expired"})

_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One message the simulator accepted for one number."""

    message_id: str
    number: str
    text: str
    sender_id: str | None
    at: float  # time.time() when accepted


@dataclass(frozen=True, slots=True)
class SimRequest:
    """What arrived at the send path (kept for the last 200 requests only)."""

    headers: dict[str, str]
    form: dict[str, str]  # first value of each field
    http_status: int


@dataclass
class Mode:
    http_status: int | None = None  # answer every valid send request with this HTTP status
    delay: float = 0.0  # seconds before answering; longer than the client's timeout = a timeout
    recipient_codes: dict[str, int] = field(default_factory=dict)  # number -> statusCode
    all_recipients_code: int | None = None  # statusCode for every other number
    invalid_json: bool = False  # accept and record, then answer 201 with a broken body
    omit_recipients: frozenset[str] = frozenset()  # leave these out of the answer (not sent)


@dataclass
class ReportConfig:
    """Automatic delivery reports after each accepted message (none without a URL)."""

    callback_url: str | None = None
    statuses: tuple[str, ...] = ("Success",)  # sent in this order, e.g. Submitted, Success
    delay: float = 0.0  # seconds after acceptance
    jitter: float = 0.0  # up to this many extra seconds each, at random: reorders reports
    duplicates: float = 0.0  # probability that a report is posted twice
    failures: dict[str, str] = field(default_factory=dict)  # number -> failureReason
    network_code: str = "63902"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # benchmarks open many connections at once

    def __init__(self, address: tuple[str, int], sim: AtSimulator) -> None:
        self.sim = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client killed mid-request (the crash tests do it on purpose) is not news.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        # Idle keep-alive connections would otherwise go on being served after close().
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the pooled client expects
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no per-request logging: it would cost more than the work

    def do_POST(self) -> None:
        self.server.sim._handle(self, "POST")

    def do_GET(self) -> None:
        self.server.sim._handle(self, "GET")

    def do_PUT(self) -> None:
        self.server.sim._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.sim._handle(self, "DELETE")

    def do_PATCH(self) -> None:
        self.server.sim._handle(self, "PATCH")

    def reply(self, status: int, body: bytes | str, content_type: str = "text/plain") -> None:
        if isinstance(body, str):
            body = body.encode()
        reason = _phrase(status)
        head = (
            f"HTTP/1.1 {status} {reason}\r\n"
            f"Content-Type: {content_type}; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n"
            + ("Connection: close\r\n" if self.close_connection else "")
            + "\r\n"
        )
        # One write: headers and body in one segment, no Nagle stall.
        self.wfile.write(head.encode("latin-1") + body)


class _Lane:
    """One report-posting thread with its own schedule."""

    def __init__(self, post: Callable[[str, dict[str, str]], object], name: str) -> None:
        self._post = post
        self._heap: list[tuple[float, int, str, dict[str, str]]] = []
        self._seq = 0
        self._busy = False
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def schedule(self, items: list[tuple[float, str, dict[str, str]]]) -> None:
        with self._cv:
            for due, url, form in items:
                self._seq += 1
                heapq.heappush(self._heap, (due, self._seq, url, form))
            self._cv.notify()

    def pending(self) -> int:
        with self._cv:
            return len(self._heap) + self._busy

    def _run(self) -> None:
        while True:
            with self._cv:
                self._busy = False
                while not self._stopped:
                    now = time.monotonic()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cv.wait(self._heap[0][0] - now if self._heap else None)
                if self._stopped:
                    return
                _, _, url, form = heapq.heappop(self._heap)
                self._busy = True
            self._post(url, form)

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()
        self._thread.join(timeout=5)


class _Reporter:
    """Posts scheduled delivery reports from a few background threads.

    All reports for one message go through the same thread, so without jitter they
    arrive in the order scheduled; different messages' reports run in parallel.
    """

    def __init__(self, sim: AtSimulator, workers: int) -> None:
        self._client = httpx.Client(timeout=10.0)
        post = partial(sim._post_report, self._client)
        self._lanes = [_Lane(post, f"at-sim-reports-{i}") for i in range(max(1, workers))]

    def schedule(self, items: Iterable[tuple[float, str, dict[str, str]]]) -> None:
        by_lane: dict[int, list[tuple[float, str, dict[str, str]]]] = {}
        for item in items:
            lane = hash(item[2]["id"]) % len(self._lanes)
            by_lane.setdefault(lane, []).append(item)
        for lane, lane_items in by_lane.items():
            self._lanes[lane].schedule(lane_items)

    def pending(self) -> int:
        """Reports scheduled or being posted."""
        return sum(lane.pending() for lane in self._lanes)

    def stop(self) -> None:
        for lane in self._lanes:
            lane.stop()
        self._client.close()


class AtSimulator:
    def __init__(
        self,
        *,
        api_key: str = "test-api-key",
        username: str | None = None,
        sender_ids: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        callback_url: str | None = None,
        report_workers: int = 2,
        seed: int | None = None,
    ) -> None:
        self.api_key = api_key
        self.username = username  # None accepts any username
        self.sender_ids = frozenset(sender_ids) if sender_ids is not None else None
        self._address = (host, port)
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._random = random.Random(seed)
        self._mode = Mode()
        self._fail_queue: deque[tuple[int, float]] = deque()
        self._reports = ReportConfig(callback_url=callback_url)
        self._report_workers = report_workers
        self._reporter: _Reporter | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._reset_counters()

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> AtSimulator:
        self._server = _Server(self._address, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.drop_connections()
            self._server.server_close()
        with self._lock:
            reporter = self._reporter
        if reporter is not None:
            reporter.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> AtSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the simulator first"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What the gateway takes as ``base_url``."""
        return f"http://{self._address[0]}:{self.port}"

    # --- steering --------------------------------------------------------------------

    def set_mode(
        self,
        *,
        http_status: int | None = None,
        delay: float = 0.0,
        recipient_codes: Mapping[str, int] | None = None,
        all_recipients_code: int | None = None,
        invalid_json: bool = False,
        omit_recipients: Iterable[str] = (),
    ) -> None:
        """Replace the standing behaviour; ``set_mode()`` alone restores normal service."""
        mode = Mode(
            http_status=http_status,
            delay=delay,
            recipient_codes=dict(recipient_codes or {}),
            all_recipients_code=all_recipients_code,
            invalid_json=invalid_json,
            omit_recipients=frozenset(omit_recipients),
        )
        with self._lock:
            self._mode = mode

    def fail_next(self, n: int = 1, http_status: int = 500, delay: float = 0.0) -> None:
        """The next ``n`` valid send requests get ``http_status`` (after ``delay`` seconds)."""
        with self._lock:
            self._fail_queue.extend([(http_status, delay)] * n)

    def configure_reports(
        self,
        callback_url: str | None,
        *,
        statuses: Sequence[str] = ("Success",),
        delay: float = 0.0,
        jitter: float = 0.0,
        duplicates: float = 0.0,
        failures: Mapping[str, str] | None = None,
        network_code: str = "63902",
    ) -> None:
        config = ReportConfig(
            callback_url=callback_url,
            statuses=tuple(statuses),
            delay=delay,
            jitter=jitter,
            duplicates=duplicates,
            failures=dict(failures or {}),
            network_code=network_code,
        )
        with self._lock:
            self._reports = config

    def reset(self) -> None:
        """Forget records and counters and restore normal service (reports config stays)."""
        with self._lock:
            self._mode = Mode()
            self._fail_queue.clear()
            self._reset_counters()

    def _reset_counters(self) -> None:
        self._records: list[SimMessage] = []
        self._by_id: dict[str, SimMessage] = {}
        self._by_number: Counter[str] = Counter()
        self._by_number_text: Counter[tuple[str, str]] = Counter()
        self._requests = 0
        self._http_answers: Counter[int] = Counter()
        self._refused: Counter[int] = Counter()
        self._segments = 0
        self._reports_posted = 0
        self._reports_failed = 0
        self._report_answers: Counter[int] = Counter()
        self._recent: deque[SimRequest] = deque(maxlen=200)

    # --- reading what happened ------------------------------------------------------

    @property
    def records(self) -> list[SimMessage]:
        with self._lock:
            return list(self._records)

    @property
    def accepted(self) -> int:
        with self._lock:
            return len(self._records)

    @property
    def requests(self) -> list[SimRequest]:
        """The most recent requests at the send path, oldest first."""
        with self._lock:
            return list(self._recent)

    @property
    def last_request(self) -> SimRequest:
        with self._lock:
            return self._recent[-1]

    def count(self, number: str) -> int:
        with self._lock:
            return self._by_number[number]

    def duplicates(self) -> dict[tuple[str, str], int]:
        """(number, text) pairs accepted more than once, with their counts."""
        with self._lock:
            return {key: n for key, n in self._by_number_text.items() if n > 1}

    def stats(self, *, full: bool = False) -> dict[str, Any]:
        with self._lock:
            duplicate_numbers = {k: n for k, n in self._by_number.items() if n > 1}
            result: dict[str, Any] = {
                "requests": self._requests,
                "http_answers": {str(k): n for k, n in sorted(self._http_answers.items())},
                "accepted": len(self._records),
                "refused": {str(k): n for k, n in sorted(self._refused.items())},
                "segments": self._segments,
                "unique_numbers": len(self._by_number),
                "duplicate_numbers": duplicate_numbers,
                "duplicate_sends": sum(n - 1 for n in self._by_number_text.values() if n > 1),
                "reports_posted": self._reports_posted,
                "reports_failed": self._reports_failed,
                "report_answers": {str(k): n for k, n in sorted(self._report_answers.items())},
            }
            if full:
                result["by_number"] = dict(self._by_number)
            reporter = self._reporter
        result["reports_pending"] = reporter.pending() if reporter else 0
        return result

    def wait_for_reports(self, timeout: float = 10.0) -> bool:
        """Wait until every automatic report has been posted (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                reporter = self._reporter
            if reporter is None or reporter.pending() == 0:
                return True
            time.sleep(0.01)
        return False

    # --- delivery reports -----------------------------------------------------------

    def deliver(
        self,
        callback_url: str,
        status: str = "Success",
        failure_reason: str | None = None,
        network_code: str = "63902",
        *,
        message_ids: Iterable[str] | None = None,
        retry_count: int | None = None,
        timeout: float = 10.0,
    ) -> list[int]:
        """Post one report for each recorded message (or those in ``message_ids``) now.

        Returns the receiver's HTTP status for each (0 for a connection failure).
        """
        with self._lock:
            if message_ids is None:
                chosen = list(self._records)
            else:
                chosen = [self._by_id[i] for i in message_ids if i in self._by_id]
        answers = []
        with httpx.Client(timeout=timeout) as client:
            for record in chosen:
                form = report_form(record, status, failure_reason, network_code, retry_count)
                answers.append(self._post_report(client, callback_url, form))
        return answers

    def _post_report(self, client: httpx.Client, url: str, form: dict[str, str]) -> int:
        try:
            status = client.post(url, data=form).status_code
        except httpx.HTTPError:
            status = 0
        with self._lock:
            self._report_answers[status] += 1
            if 200 <= status < 300:
                self._reports_posted += 1
            else:
                self._reports_failed += 1
        return status

    def _schedule_reports(self, config: ReportConfig, accepted: list[SimMessage]) -> None:
        assert config.callback_url is not None
        url = config.callback_url
        base = time.monotonic() + config.delay
        rnd = self._random
        items = []
        for record in accepted:
            statuses = list(config.statuses)
            reason = config.failures.get(record.number)
            if reason is not None:
                statuses[-1] = "Failed"
            for step, status in enumerate(statuses):
                # A small step keeps one message's reports in order unless jitter reorders them.
                due = base + step * 0.001 + (rnd.uniform(0, config.jitter) if config.jitter else 0)
                form = report_form(record, status, reason, config.network_code, None)
                items.append((due, url, form))
                if config.duplicates and rnd.random() < config.duplicates:
                    items.append((due + rnd.uniform(0, max(config.jitter, 0.01)), url, form))
        with self._lock:
            # Started on first use: its HTTP client costs ~0.1 s to set up (TLS context).
            if self._reporter is None and not self._closing.is_set():
                self._reporter = _Reporter(self, self._report_workers)
            reporter = self._reporter
        if reporter is not None:
            reporter.schedule(items)

    # --- the HTTP side ---------------------------------------------------------------

    def _handle(self, handler: _Handler, method: str) -> None:
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or handler.headers.get("Transfer-Encoding"):
            # Without a length the rest of the stream cannot be framed: answer and hang up.
            handler.close_connection = True
            handler.reply(400, "Bad Request: a Content-Length is required")
            return
        body = handler.rfile.read(length) if length else b""
        path, _, query = handler.path.partition("?")
        if path.startswith(CONTROL_PREFIX):
            self._control(handler, method, path[len(CONTROL_PREFIX) :], query, body)
            return
        if path != SEND_PATH:
            handler.reply(404, "Not Found")
            return
        if method != "POST":
            handler.reply(405, "Method Not Allowed")
            return
        self._send(handler, body)

    def _send(self, handler: _Handler, body: bytes) -> None:
        form: dict[str, str] = {}
        status, problem = self._check(handler.headers, body, form)
        with self._lock:
            self._requests += 1
            self._recent.append(SimRequest(dict(handler.headers.items()), form, status))
            # Injected failures hit valid requests only, so a test's bad request
            # cannot use one up.
            failure = self._fail_queue.popleft() if status == 201 and self._fail_queue else None
            mode = self._mode
            reports = self._reports
        if status != 201:
            self._answer(handler, status, problem)
            return

        http_status, delay = failure if failure is not None else (mode.http_status, mode.delay)
        if delay > 0 and self._closing.wait(delay):
            handler.close_connection = True
            return
        if http_status is not None:
            text = AUTH_FAILED if http_status == 401 else _phrase(http_status)
            self._answer(handler, http_status, text)
            return

        payload, accepted = self._accept(form, mode)
        if accepted and reports.callback_url:
            self._schedule_reports(reports, accepted)
        if mode.invalid_json:
            payload = payload[: len(payload) // 2]
        self._answer(handler, 201, payload, "application/json")

    def _check(self, headers: Any, body: bytes, form: dict[str, str]) -> tuple[int, str]:
        """Validate a send request as AT documents it; fills ``form`` as it goes."""
        if headers.get("apiKey") != self.api_key:
            return 401, AUTH_FAILED
        if "application/json" not in (headers.get("Accept") or ""):
            return 406, "Not Acceptable: send Accept: application/json"
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return 415, "Unsupported Media Type: send application/x-www-form-urlencoded"
        try:
            fields = parse_qs(body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            return 400, "Bad Request: the body is not a UTF-8 form"
        form.update({name: values[0] for name, values in fields.items()})
        for name in ("username", "to", "message"):
            if not form.get(name):
                return 400, f"Bad Request: {name} is required"
        if self.username is not None and form["username"] != self.username:
            return 401, AUTH_FAILED
        return 201, ""

    def _accept(self, form: dict[str, str], mode: Mode) -> tuple[bytes, list[SimMessage]]:
        text = form["message"]
        sender = form.get("from") or None
        numbers = [n.strip() for n in form["to"].split(",")]
        parts = segments.count(text).segments
        cost_each = COST_PER_SEGMENT * parts
        cost_text = f"{CURRENCY} {cost_each:.4f}"
        sender_refused = self.sender_ids is not None and sender not in self.sender_ids
        ids = os.urandom(16 * len(numbers)).hex()  # one syscall for every messageId
        now = time.time()
        entries = []
        accepted: list[SimMessage] = []
        refused: Counter[int] = Counter()
        for i, number in enumerate(numbers):
            if number in mode.omit_recipients:
                continue
            code = mode.recipient_codes.get(number, mode.all_recipients_code)
            if code is None:
                if not _E164.fullmatch(number):
                    code = 403
                elif sender_refused:
                    code = 402
                else:
                    code = 101
            if code in ACCEPTED_CODES:
                message_id = "ATXid_" + ids[32 * i : 32 * i + 32]
                accepted.append(SimMessage(message_id, number, text, sender, now))
                entries.append(
                    {
                        "statusCode": code,
                        "number": number,
                        "status": STATUS_NAMES[code],
                        "cost": cost_text,
                        "messageId": message_id,
                    }
                )
            else:
                refused[code] += 1
                entries.append(
                    {
                        "statusCode": code,
                        "number": number,
                        "status": STATUS_NAMES.get(code, "Unknown"),
                        "cost": "0",
                        "messageId": "None",
                    }
                )
        total = cost_each * len(accepted)
        total_text = f"{CURRENCY} {total:.4f}" if accepted else "0"
        summary = f"Sent to {len(accepted)}/{len(numbers)} Total Cost: {total_text}"
        payload = json.dumps(
            {"SMSMessageData": {"Message": summary, "Recipients": entries}},
            separators=(",", ":"),
        ).encode()
        with self._lock:
            self._records.extend(accepted)
            for record in accepted:
                self._by_id[record.message_id] = record
                self._by_number[record.number] += 1
                self._by_number_text[(record.number, text)] += 1
            self._refused.update(refused)
            self._segments += parts * len(accepted)
        return payload, accepted

    def _answer(
        self, handler: _Handler, status: int, body: bytes | str, content_type: str = "text/plain"
    ) -> None:
        with self._lock:
            self._http_answers[status] += 1
        handler.reply(status, body, content_type)

    def _control(
        self, handler: _Handler, method: str, action: str, query: str, body: bytes
    ) -> None:
        params = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            data = json.loads(body) if body else {}
            if not isinstance(data, dict):
                raise ValueError("a JSON object is required")
            result: Any
            if method == "GET" and action == "stats":
                result = self.stats(full=params.get("full") == "1")
            elif method == "GET" and action == "records":
                result = self._records_page(params)
            elif method == "POST" and action == "mode":
                self.set_mode(**data)
                result = {"ok": True}
            elif method == "POST" and action == "fail_next":
                self.fail_next(**data)
                result = {"ok": True}
            elif method == "POST" and action == "reports":
                self.configure_reports(**data)
                result = {"ok": True}
            elif method == "POST" and action == "deliver":
                answers = self.deliver(**data)
                result = {"posted": len(answers), "answers": dict(Counter(map(str, answers)))}
            elif method == "POST" and action == "reset":
                self.reset()
                result = {"ok": True}
            else:
                handler.reply(404, "Not Found")
                return
        except (TypeError, ValueError) as exc:
            handler.reply(400, f"Bad Request: {exc}")
            return
        handler.reply(200, json.dumps(result), "application/json")

    def _records_page(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", "0"))
        limit = int(params.get("limit", "1000"))
        number = params.get("number")
        with self._lock:
            chosen: Sequence[SimMessage] = self._records
            if number is not None:
                chosen = [r for r in chosen if r.number == number]
            return [asdict(r) for r in chosen[offset : offset + limit]]


class CallbackReceiver:
    """A loopback server standing in for our callback URL: records each form it is posted.

    Answers ``status`` (200 unless told otherwise) to every POST.
    """

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.posts: list[tuple[str, dict[str, str], dict[str, str]]] = []  # path, headers, form
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
                with receiver._lock:
                    receiver.posts.append((self.path, dict(self.headers.items()), form))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return (
            f"http://127.0.0.1:{self._server.server_address[1]}/callbacks/africastalking/delivery"
        )

    @property
    def forms(self) -> list[dict[str, str]]:
        with self._lock:
            return [form for _, _, form in self.posts]

    def wait_for(self, n: int, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= n:
                    return True
            time.sleep(0.01)
        return False

    def __enter__(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def report_form(
    record: SimMessage,
    status: str,
    failure_reason: str | None,
    network_code: str,
    retry_count: int | None,
) -> dict[str, str]:
    """A delivery report's form fields, as AFRICASTALKING.md documents them."""
    form = {
        "id": record.message_id,
        "status": status,
        "phoneNumber": record.number,
        "networkCode": network_code,
    }
    # failureReason comes only with a failed status; retryCount only on premium.
    if status in FAILED_REPORT_STATUSES:
        form["failureReason"] = failure_reason or "DeliveryFailure"
    if retry_count is not None:
        form["retryCount"] = str(retry_count)
    return form


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="test-api-key")
    parser.add_argument("--username", default=None, help="accept only this username")
    parser.add_argument("--callback", default=None, help="post delivery reports here")
    parser.add_argument("--report-statuses", default="Success", help="comma-separated")
    parser.add_argument("--report-delay", type=float, default=0.0)
    parser.add_argument("--report-jitter", type=float, default=0.0)
    parser.add_argument("--report-duplicates", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--dump", default=None, help="write records here as JSON lines on exit")
    args = parser.parse_args(argv)

    sim = AtSimulator(
        api_key=args.api_key,
        username=args.username,
        host=args.host,
        port=args.port,
        seed=args.seed,
    )
    if args.callback:
        sim.configure_reports(
            args.callback,
            statuses=args.report_statuses.split(","),
            delay=args.report_delay,
            jitter=args.report_jitter,
            duplicates=args.report_duplicates,
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sim.start()
    sys.stdout.write(f"{sim.port}\n")
    sys.stdout.flush()
    while not stop.wait(0.5):
        pass
    sim.close()
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as out:
            for record in sim.records:
                out.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
