"""The production rehearsal: the multi-process and fault test (issue 8), run by `.ci/run`.

Two `tms serve` and two `tms worker` processes run on PostgreSQL with the Redis cache,
in production mode, against the loopback Africa's Talking simulator (which posts delivery
reports back). A load script on loopback plays everyone at once, spreading requests over
both web processes as a load balancer would:

- agencies lodge applications and move them to processing and dispatched (bulk API, with
  Idempotency-Key; a failed request is retried with the same key, as integrators do);
- counter officers, signed in with password and second factor, scan the dispatched
  documents as received (each scan queues the ready SMS);
- citizens look up their status (JSON and page) and text TRACK <reference> to the short
  code (each answered one queues a reply SMS).

During the load: PostgreSQL is restarted; a worker is killed with SIGKILL (and another
started, as systemd would); the SMS gateway answers 503 for a while, then recovers.

Then it checks, and reports the figures:

- requests served, and errors during the database outage: only 503s, none slow, none after;
- nothing committed is lost: every item an agency was told "ok" and every scan told
  "acknowledged" is in the database;
- no message lost (each expected SMS reached the gateway) and none sent twice;
- after the gateway outage, the replies went before the backlog;
- rate limits are shared by both web processes (Redis);
- each scheduled job ran once per period, though several workers check the schedule;
- the killed worker's task was run again.

    python -m tms.testing.rehearsal [--database-url postgres://postgres@127.0.0.1:5432]
        [--cache-url redis://127.0.0.1:6379/13] [--gateway-down 120] [--report FILE]

It creates and drops its own database. Restarting PostgreSQL needs the right to do so
(root in CI): see --restart-database.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SECRET = "a-rehearsal-secret-key-that-is-long-enough-for-django-1234567890"  # noqa: S105
AT_KEY = "rehearsal-at-key"
CALLBACK_TOKEN = "rehearsal-callback-token"  # noqa: S105
PASSWORD = "a-long-rehearsal-password-42"  # noqa: S105
APPLICATIONS_PER_AGENCY = 800
LOST_PHONE = "+254799000001"  # no application has it
CHUNK = 10  # applications per agency status-update request
OUTAGE_SLOW_SECONDS = 10.0  # an answer during the outage slower than this is a failure
TIMEOUT = 30.0
# Only the schedule enqueues these, so their task count must equal their periods.
ENQUEUED_ELSEWHERE = {
    "tms.notifications.tasks.send_due_sms",
    "tms.integrations.tasks.deliver_webhooks",
}


def say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


# --- Bookkeeping ------------------------------------------------------------------------


@dataclass
class Answer:
    at: float  # seconds since the load started
    kind: str
    status: int  # 0: no HTTP answer (connection refused, reset, timeout)
    seconds: float
    error: str = ""  # for status 0: what happened instead


@dataclass
class Tally:
    started: float = field(default_factory=time.monotonic)
    answers: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    events: dict[str, float] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)

    def now(self) -> float:
        return time.monotonic() - self.started

    def record(self, kind: str, status: int, seconds: float, error: str = "") -> None:
        with self.lock:
            self.answers.append(Answer(self.now() - seconds, kind, status, seconds, error))

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def mark(self, event: str) -> None:
        with self.lock:
            self.events[event] = self.now()
        say(f"  [{self.now():6.1f} s] {event}")


class Servers:
    """Both web processes, taken in turn, as a round-robin load balancer would."""

    def __init__(self, bases: list[str], tally: Tally) -> None:
        self.bases = bases
        self.tally = tally
        self._turn = itertools.count()

    def request(
        self, client: httpx.Client, kind: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        base = self.bases[next(self._turn) % len(self.bases)]
        started = time.monotonic()
        for attempt in (1, 2):
            try:
                response = client.request(method, base + path, timeout=TIMEOUT, **kwargs)
            except httpx.RemoteProtocolError:
                # The server closed an idle keep-alive connection as we reused it: nothing
                # was processed. Clients (and load balancers) retry that once on a new one.
                self.tally.count("keep-alive connection closed under us, retried")
                if attempt == 1:
                    continue
                self.tally.record(kind, 0, time.monotonic() - started, "RemoteProtocolError")
                return None
            except httpx.TransportError as error:
                self.tally.record(kind, 0, time.monotonic() - started, type(error).__name__)
                return None
            break
        self.tally.record(kind, response.status_code, time.monotonic() - started)
        return response


# --- Processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Fleet:
    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.web: list[subprocess.Popen[bytes]] = []
        self.bases: list[str] = []
        self.workers: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("ab")
        return subprocess.Popen(  # noqa: S603 (our own command line)
            [sys.executable, "-m", "tms.cli", *command], env=env, stdout=log, stderr=log
        )

    def start_web(self, count: int) -> None:
        for number in range(1, count + 1):
            port = free_port()
            data = self.workdir / f"web{number}"
            env = {**self.env, "TMS_DATA_DIR": str(data), "TMS_METRICS_DIR": str(data / "metrics")}
            self.web.append(
                self._start(
                    f"web{number}",
                    ["serve", "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"],
                    env,
                )
            )
            self.bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(self.bases, self.web, strict=True):
            deadline = time.monotonic() + 120
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"a web process exited; see {self.workdir}")
                with contextlib.suppress(httpx.TransportError):
                    if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{base} never became ready; see {self.workdir}")
                time.sleep(0.3)

    def start_worker(self, name: str) -> None:
        self.workers[name] = self._start(
            name, ["worker", "--worker-id", name, "--interval", "0.5"], self.env
        )

    def kill_worker(self, name: str) -> None:
        process = self.workers[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everything (as systemd stops it); the exit codes of the live ones."""
        codes: dict[str, int | None] = {}
        live = {f"web{i + 1}": p for i, p in enumerate(self.web)}
        live.update({n: p for n, p in self.workers.items() if p.returncode is None})
        for process in live.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in live.items():
            try:
                codes[name] = process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = None
        return codes


# --- The database -------------------------------------------------------------------------


def admin_execute(server_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def default_restart_command() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    version = versions[-1] if versions else "15"
    return f"pg_ctlcluster --skip-systemctl-redirect {version} main restart -m fast"


# --- The rehearsal ------------------------------------------------------------------------


@dataclass
class Expected:
    """What the load was told succeeded: the database must show all of it."""

    status: dict[str, str] = field(default_factory=dict)  # reference -> last acknowledged
    replies: int = 0  # incoming SMS answered "ok" (each queues one reply)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, reference: str, status: str) -> None:
        with self.lock:
            self.status[reference] = status


@dataclass
class Plan:
    database_restart_at: float
    worker_kill_at: float
    gateway_down_at: float
    gateway_down_for: float
    load_seconds: float


class Rehearsal:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.database = f"tms_rehearsal_{os.getpid()}"
        self.tally = Tally()
        self.expected = Expected()
        self.stop = threading.Event()
        self.problems: list[str] = []
        self.figures: dict[str, Any] = {}
        self.centre_of: dict[str, str] = {}  # reference -> centre code
        self.phones: dict[str, str] = {}  # reference -> the applicant's phone
        self.scans: dict[str, ScanQueue] = {}
        self.plan = Plan(
            database_restart_at=args.database_restart_at,
            worker_kill_at=args.worker_kill_at,
            gateway_down_at=args.gateway_down_at,
            gateway_down_for=args.gateway_down,
            load_seconds=args.gateway_down_at + args.gateway_down + args.after_gateway,
        )

    # -- set-up --------------------------------------------------------------------------

    def environment(self, simulator_url: str) -> dict[str, str]:
        return {
            **os.environ,
            "TMS_MODE": "production",
            "TMS_SECRET_KEY": SECRET,
            "TMS_ALLOWED_HOSTS": "127.0.0.1",
            "TMS_SECURE_COOKIES": "0",
            "TMS_DATABASE_URL": f"{self.args.database_url}/{self.database}",
            "TMS_CACHE_URL": self.args.cache_url,
            "TMS_CACHE_PREFIX": self.database,
            "TMS_TASKS_BACKEND": "django_tasks_db.DatabaseBackend",
            "TMS_SMS_BACKEND": "africastalking",
            "TMS_AT_USERNAME": "tms",
            "TMS_AT_API_KEY": AT_KEY,
            "TMS_AT_BASE_URL": simulator_url,
            "TMS_AT_CALLBACK_TOKEN": CALLBACK_TOKEN,
            "TMS_QUIET_HOURS": "",
            "TMS_SMS_LEASE_SECONDS": "15",
            "TMS_SMS_UNKNOWN_HOLD_SECONDS": "20",
            "TMS_SMS_SWEEP_SECONDS": "2",
            "TMS_SCHEDULE_CHECK_SECONDS": "1",
            "TMS_WORKER_HEARTBEAT_SECONDS": "1",
            "TMS_WORKER_LOST_SECONDS": "6",
            # One address (loopback) plays every citizen: the per-address limits would
            # throttle the load. The per-reference and per-phone limits stay, and are checked.
            "TMS_RATE_LOOKUP_PER_ADDRESS": "1000000/m",
            "TMS_RATE_LOOKUP_PER_REFERENCE": "30/h",
            "TMS_RATE_LOST_PER_ADDRESS": "1000/h",
            "TMS_RATE_LOST_PER_PHONE": "3/h",
            "TMS_RATE_AGENCY_TOKEN": "1000000/m",
            "TMS_LOG_FORMAT": "json",
            "TMS_LOG_LEVEL": "WARNING",
            "TMS_DATA_DIR": str(self.workdir / "driver"),
            "DJANGO_SETTINGS_MODULE": "tms.settings",
        }

    def seed(self) -> dict[str, Any]:
        """Reference data, tokens and staff, through the services (the driver is a Django
        process on the rehearsal database)."""
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from tms.accounts.roles import Role
        from tms.integrations.tokens import token_create
        from tms.testing.builders import make_agency, make_centre, make_service
        from tms.testing.staff import PASSWORD as STAFF_PASSWORD
        from tms.testing.staff import make_staff

        centres = [
            make_centre("NRB01", name="Huduma Centre GPO"),
            make_centre("MSA01", name="Huduma Centre Mombasa", county="Mombasa"),
        ]
        agencies = [
            make_agency("NRB", name="National Registration Bureau"),
            make_agency("DIS", name="Department of Immigration Services"),
        ]
        services = [
            make_service("NID", agency=agencies[0], name_en="National ID card"),
            make_service("PAS", agency=agencies[1], name_en="Passport"),
        ]
        tokens = [token_create(agency=agency, name="rehearsal")[1] for agency in agencies]
        officers = []
        for centre in centres:
            user = make_staff(
                Role.COUNTER_OFFICER, centre=centre, username=f"officer-{centre.code}"
            )
            device = TOTPDevice.objects.get(user=user)
            officers.append((user.username, STAFF_PASSWORD, device.pk))
        return {
            "centres": [c.code for c in centres],
            "services": [s.code for s in services],
            "tokens": tokens,
            "officers": officers,
        }

    # -- the actors ------------------------------------------------------------------------

    def agency(self, servers: Servers, token: str, items: list[dict[str, Any]]) -> None:
        """Lodge, then move chunk after chunk to processing and dispatched; each dispatched
        document goes to its centre's officer to scan."""
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(headers=headers) as client:
            lodged: list[str] = []
            for start in range(0, len(items), 200):
                batch = items[start : start + 200]
                answer = self.post_until_done(
                    servers, client, "agency.lodge", "/api/v1/agency/applications", batch
                )
                for item, result in zip(batch, answer["results"], strict=True):
                    if not result["ok"]:
                        self.problems.append(f"lodging refused: {result['error']}")
                        continue
                    reference = result["reference"]
                    self.centre_of[reference] = item["centre"]
                    self.phones[reference] = item["applicant"]["phone"]
                    self.expected.set(reference, "lodged")
                    lodged.append(reference)
            for start in range(0, len(lodged), CHUNK):
                if self.stop.is_set():
                    return
                chunk = lodged[start : start + CHUNK]
                for status in ("processing", "dispatched"):
                    body = [{"reference": r, "status": status} for r in chunk]
                    answer = self.post_until_done(
                        servers, client, "agency.update", "/api/v1/agency/status-updates", body
                    )
                    for result in answer["results"]:
                        if result["ok"]:
                            self.expected.set(result["reference"], status)
                        else:
                            self.problems.append(f"status update refused: {result['error']}")
                    time.sleep(self.args.pace)
                for reference in chunk:
                    self.scans[self.centre_of[reference]].put(reference)

    def post_until_done(
        self, servers: Servers, client: httpx.Client, kind: str, path: str, items: list[Any]
    ) -> dict[str, Any]:
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            response = servers.request(
                client, kind, "POST", path, json={"items": items}, headers={"Idempotency-Key": key}
            )
            if response is not None and response.status_code == 200:
                data: dict[str, Any] = response.json()
                return data
            time.sleep(1.0)  # the same key again: a retry cannot apply anything twice
        raise RuntimeError(f"{kind}: no answer for 180 s")

    def officer(
        self, servers: Servers, username: str, password: str, device: int, scans: ScanQueue
    ) -> None:
        from django_otp.oath import TOTP
        from django_otp.plugins.otp_totp.models import TOTPDevice

        client = httpx.Client(base_url=servers.bases[0], timeout=TIMEOUT)
        # A real sign-in: password, then the authenticator's current code.
        client.get("/staff/sign-in/")
        csrf = client.cookies["csrftoken"]
        client.post(
            "/staff/sign-in/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": csrf},
        )
        csrf = client.cookies["csrftoken"]  # signing in gives a new one
        totp_device = TOTPDevice.objects.get(pk=device)
        code = TOTP(totp_device.bin_key, totp_device.step, totp_device.t0, totp_device.digits)
        verified = client.post(
            "/staff/verify/", data={"code": f"{code.token():06d}", "csrfmiddlewaretoken": csrf}
        )
        if verified.status_code != 302:
            raise RuntimeError(f"{username} could not sign in ({verified.status_code})")
        csrf = client.cookies["csrftoken"]
        with contextlib.closing(client):
            while not (self.stop.is_set() and scans.empty()):
                reference = scans.take(timeout=0.5)
                if reference is None:
                    continue
                deadline = time.monotonic() + 180
                while time.monotonic() < deadline:
                    response = servers.request(
                        client,
                        "staff.scan",
                        "POST",
                        "/staff/scan/json/",
                        data={"code": reference},
                        headers={"X-CSRFToken": csrf},
                    )
                    if response is not None and response.status_code == 200:
                        kind = response.json()["outcome"]["kind"]
                        # "Already ready": an earlier try committed but its answer was lost.
                        if kind in ("acknowledged", "already_ready"):
                            self.expected.set(reference, "ready")
                        else:
                            self.problems.append(f"scan answered {kind}")
                        break
                    time.sleep(1.0)

    def citizen_lookups(self, servers: Servers) -> None:
        rng = random.Random()  # noqa: S311 (load, not security)
        with httpx.Client() as client:
            while not self.stop.is_set():
                known = self.known()
                if not known:
                    time.sleep(0.2)
                    continue
                reference = rng.choice(known)
                if rng.random() < 0.5:
                    servers.request(client, "public.json", "GET", f"/api/v1/track/{reference}")
                else:
                    servers.request(client, "public.page", "GET", f"/track/?ref={reference}")
                time.sleep(0.03)

    def citizen_texts(self, servers: Servers) -> None:
        """TRACK <reference> from the applicant's own phone, about twice a second."""
        rng = random.Random(7)  # noqa: S311
        path = f"/callbacks/africastalking/sms?token={CALLBACK_TOKEN}"
        with httpx.Client() as client:
            while not self.stop.is_set():
                known = self.known()
                if known:
                    reference = rng.choice(known)
                    form = {
                        "from": self.phones[reference],
                        "to": "22384",
                        "text": f"TRACK {reference}",
                        "id": str(uuid.uuid4()),
                        "date": "2026-11-28 10:00:00",
                    }
                    response = servers.request(client, "citizen.sms", "POST", path, data=form)
                    answered = response is not None and response.status_code == 200
                    if answered and response is not None and response.text.strip() == "ok":
                        with self.expected.lock:
                            self.expected.replies += 1
                time.sleep(0.5)

    # -- faults ----------------------------------------------------------------------------

    def faults(self, fleet: Fleet, simulator: Any) -> None:
        plan = self.plan
        steps: list[tuple[float, str, Callable[[], None]]] = [
            (plan.database_restart_at, "database restart", self.restart_database),
            (plan.worker_kill_at, "worker killed", lambda: self.kill_worker(fleet)),
            (plan.gateway_down_at, "gateway down", lambda: simulator.set_mode(http_status=503)),
            (plan.gateway_down_at + plan.gateway_down_for, "gateway back", simulator.set_mode),
        ]
        for at, name, action in sorted(steps, key=lambda step: step[0]):
            while self.tally.now() < at:
                if self.stop.wait(0.1):
                    return
            self.tally.mark(name)
            action()
            self.tally.mark(f"{name}: done")

    def restart_database(self) -> None:
        result = subprocess.run(  # noqa: S603 (the operator's own command)
            shlex.split(self.args.restart_database), capture_output=True, text=True
        )
        if result.returncode != 0:
            self.problems.append(f"could not restart PostgreSQL: {result.stderr.strip()[:300]}")

    def kill_worker(self, fleet: Fleet) -> None:
        from django.db import close_old_connections
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        # Prefer the moment worker-1 is running a task, so there is work to release.
        deadline = time.monotonic() + 20
        running = None
        while time.monotonic() < deadline and running is None:
            close_old_connections()
            running = next(
                (
                    (task_id, path)
                    for task_id, path, ids in DBTaskResult.objects.filter(
                        status=TaskResultStatus.RUNNING
                    ).values_list("id", "task_path", "worker_ids")
                    if ids and ids[-1] == "worker-1"
                ),
                None,
            )
            if running is None:
                time.sleep(0.02)
        self.figures["killed_while_running_task"] = running[1] if running else None
        fleet.kill_worker("worker-1")
        time.sleep(2)  # systemd's RestartSec, roughly
        fleet.start_worker("worker-3")

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> None:
        from tms.notifications.tests.simulator import AtSimulator

        say(f"rehearsal database {self.database}; logs in {self.workdir}")
        admin_execute(self.args.database_url, f'CREATE DATABASE "{self.database}"')
        with AtSimulator(api_key=AT_KEY, username="tms", seed=11) as simulator:
            # The web processes' ports are only known once they start; the simulator's
            # reports go to the first one (the gateway has one callback URL).
            env = self.environment(simulator.base_url)
            os.environ.update(env)
            import django

            django.setup()
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            seeded = self.seed()
            fleet = Fleet(env, self.workdir)
            try:
                fleet.start_web(2)
                # Africa's Talking has one callback URL: here, the second web process.
                simulator.configure_reports(
                    f"{fleet.bases[1]}/callbacks/africastalking/delivery?token={CALLBACK_TOKEN}"
                )
                for name in ("worker-1", "worker-2"):
                    fleet.start_worker(name)
                self.load(fleet, simulator, seeded)
            finally:
                codes = fleet.stop()
                self.figures["exit_codes_on_sigterm"] = codes
                if any(code != 0 for code in codes.values()):
                    self.problems.append(f"not every process stopped cleanly on SIGTERM: {codes}")
            self.check_messages(simulator)
        self.check_database()
        self.check_schedule()

    def load(self, fleet: Fleet, simulator: Any, seeded: dict[str, Any]) -> None:
        self.tally = Tally()
        servers = Servers(fleet.bases, self.tally)
        number = itertools.count(1)
        self.scans = {code: ScanQueue() for code in seeded["centres"]}
        threads = [
            threading.Thread(target=self.faults, args=(fleet, simulator), name="faults"),
            threading.Thread(target=self.citizen_lookups, args=(servers,), name="lookups-1"),
            threading.Thread(target=self.citizen_lookups, args=(servers,), name="lookups-2"),
            threading.Thread(target=self.citizen_texts, args=(servers,), name="texts"),
        ]
        for (username, password, device), code in zip(
            seeded["officers"], seeded["centres"], strict=True
        ):
            threads.append(
                threading.Thread(
                    target=self.officer,
                    args=(servers, username, password, device, self.scans[code]),
                    name=f"officer-{code}",
                )
            )
        for agency, (token, service) in enumerate(
            zip(seeded["tokens"], seeded["services"], strict=True)
        ):
            items = [
                {
                    "agency_ref": f"{service}-{i:06d}",
                    "service": service,
                    "centre": seeded["centres"][i % len(seeded["centres"])],
                    "applicant": {
                        "name": f"Applicant {agency}-{i}",
                        "phone": f"+2547{10_000_000 + next(number):08d}",  # one each
                        "language": "sw" if i % 3 == 0 else "en",
                    },
                }
                for i in range(self.args.applications)
            ]
            threads.append(
                threading.Thread(target=self.agency, args=(servers, token, items), name="agency")
            )
        for thread in threads:
            thread.start()
        self.tally.mark("load started")
        while self.tally.now() < self.plan.load_seconds:
            time.sleep(0.2)
        self.stop.set()
        self.tally.mark("load stopping")
        for thread in threads:
            thread.join(timeout=240)
        self.tally.mark("load stopped")
        self.check_rate_limits(servers, self.known()[0])
        self.wait_for_messages()

    def known(self) -> list[str]:
        with self.expected.lock:
            return list(self.expected.status)

    # -- checks ------------------------------------------------------------------------------

    def check_rate_limits(self, servers: Servers, reference: str) -> None:
        """Both processes count against one limit only if they share the cache."""

        def statuses(count: int, method: str, path: str, **kwargs: Any) -> Counter[int]:
            answers = [
                servers.request(client, "limit", method, path, **kwargs) for _ in range(count)
            ]
            return Counter(answer.status_code if answer else 0 for answer in answers)

        with httpx.Client() as client:
            lookups = statuses(40, "GET", f"/api/v1/track/{reference}")
            # A phone with no applications: the answer is the same, and no SMS is sent.
            lost = statuses(8, "POST", "/api/v1/track/lost-reference", json={"phone": LOST_PHONE})
        self.figures["rate_limit_lookups"] = dict(lookups)
        self.figures["rate_limit_lost_reference"] = dict(lost)
        # 30 an hour per reference (the load may have used a few); alone, each process
        # would allow 30 of its own and all 40 would pass.
        if lookups[429] < 10 or lookups[200] + lookups[429] != 40:
            self.problems.append(f"lookup limit not shared across processes: {dict(lookups)}")
        if lost != Counter({202: 3, 429: 5}):
            self.problems.append(f"lost-reference limit not shared across processes: {dict(lost)}")

    def wait_for_messages(self) -> None:
        from django.db import close_old_connections

        from tms.notifications.models import Message, MessageState

        deadline = time.monotonic() + self.args.drain_seconds
        unfinished = -1
        while time.monotonic() < deadline:
            close_old_connections()
            # Sent: the gateway took it. Its delivery report may have been posted while
            # the database was down; that loses a status, not a message.
            unfinished = Message.objects.exclude(
                state__in=[MessageState.SENT, MessageState.DELIVERED, MessageState.FAILED]
            ).count()
            if unfinished == 0:
                break
            time.sleep(1)
        self.tally.mark(f"messages settled ({unfinished} unfinished)")
        if unfinished:
            self.problems.append(f"{unfinished} messages still not delivered after the drain time")

    def check_messages(self, simulator: Any) -> None:
        from tms.notifications.models import Event, Message, MessageState

        records = simulator.records
        sent = Counter((record.number, record.text) for record in records)
        messages = list(Message.objects.values_list("to", "body", "state", "event", "created_at"))
        # A citizen who texts twice gets two identical replies: compare counts per text.
        queued = Counter((m[0], m[1]) for m in messages)
        duplicates = sum(max(sent[key] - queued[key], 0) for key in sent)
        lost = sum(max(queued[key] - sent[key], 0) for key in queued)
        failed = [m for m in messages if m[2] == MessageState.FAILED]
        by_event = Counter(m[3] for m in messages)
        self.figures["messages"] = {
            "queued": len(messages),
            "awaiting_delivery_report": sum(1 for m in messages if m[2] == MessageState.SENT),
            "by_event": dict(by_event),
            "accepted_by_gateway": len(records),
            "lost": lost,
            "duplicates": duplicates,
            "failed": len(failed),
        }
        if lost:
            self.problems.append(f"{lost} messages never reached the gateway")
        if duplicates:
            self.problems.append(f"{duplicates} messages reached the gateway twice")
            twice = {key for key in sent if sent[key] > queued[key]}
            self.figures["sent_twice"] = [
                {"event": event, "attempts": attempts, "state": state, "why": reason}
                for to, body, event, attempts, state, reason in Message.objects.filter(
                    to__in=[number for number, _ in twice]
                ).values_list("to", "body", "event", "attempts", "state", "failure_reason")
                if (to, body) in twice
            ]
        readies = sum(1 for status in self.expected.status.values() if status == "ready")
        if by_event[Event.READY] != readies:
            self.problems.append(
                f"{readies} acknowledged scans but {by_event[Event.READY]} ready SMS"
            )
        if by_event[Event.REPLY] != self.expected.replies:
            self.problems.append(
                f"{self.expected.replies} texts answered but {by_event[Event.REPLY]} replies"
            )
        self.check_replies_first(records, messages)

    def tally_wall_start(self) -> float:
        return time.time() - (time.monotonic() - self.tally.started)

    def check_replies_first(self, records: list[Any], messages: list[Any]) -> None:
        """Of what queued up while the gateway was down, the replies went out first."""
        from tms.notifications.models import Event

        down = self.tally.events.get("gateway down: done")
        back = self.tally.events.get("gateway back: done")
        if down is None or back is None:
            self.problems.append("the gateway outage did not happen")
            return
        started_wall = self.tally_wall_start()
        down_at, back_at = started_wall + down, started_wall + back
        queued_while_down = {
            (m[0], m[1]): m[3] for m in messages if down_at <= m[4].timestamp() < back_at
        }
        accepted: dict[tuple[str, str], float] = {}
        for record in records:
            key = (record.number, record.text)
            if key in queued_while_down and record.at >= back_at:
                accepted.setdefault(key, record.at)
        replies = sorted(
            at for key, at in accepted.items() if queued_while_down[key] == Event.REPLY
        )
        others = sorted(at for key, at in accepted.items() if queued_while_down[key] != Event.REPLY)
        self.figures["gateway_outage_backlog"] = {
            "replies": len(replies),
            "others": len(others),
            "replies_drained_seconds": round(replies[-1] - back_at, 1) if replies else None,
            "backlog_drained_seconds": round(others[-1] - back_at, 1) if others else None,
        }
        if not replies or not others:
            self.problems.append("no backlog of replies and other messages built up while down")
        elif replies[-1] > others[len(others) // 2]:
            self.problems.append("replies did not go before the backlog after the gateway outage")

    def check_database(self) -> None:
        from django.db import close_old_connections

        from tms.applications.models import Application

        close_old_connections()
        actual = dict(Application.objects.values_list("reference", "status"))
        missing = {
            ref: status for ref, status in self.expected.status.items() if actual.get(ref) != status
        }
        self.figures["applications"] = {
            "acknowledged_changes_checked": len(self.expected.status),
            "by_status": dict(Counter(actual.values())),
            "lost": len(missing),
        }
        if missing:
            example = next(iter(missing.items()))
            self.problems.append(f"{len(missing)} acknowledged changes lost, e.g. {example}")

    def check_schedule(self) -> None:
        from django.db.models import Count
        from django_tasks_db.models import DBTaskResult

        from tms.core import schedule
        from tms.core.models import ScheduledRun

        periods = dict(ScheduledRun.objects.values_list("job").annotate(n=Count("id")))
        runs = dict(DBTaskResult.objects.values_list("task_path").annotate(n=Count("id")))
        twice = []
        for job in schedule.JOBS.values():
            path = job.task.module_path
            if path in ENQUEUED_ELSEWHERE or not periods.get(job.name):
                continue
            if runs.get(path, 0) != periods[job.name]:
                twice.append(f"{job.name}: {periods[job.name]} periods, {runs.get(path, 0)} runs")
        again = [r for r in DBTaskResult.objects.values_list("worker_ids", flat=True) if len(r) > 1]
        self.figures["scheduled"] = {
            "periods": dict(periods),
            "jobs_not_once_per_period": twice,
        }
        self.figures["tasks_run_again_after_the_kill"] = len(again)
        if twice:
            self.problems.append(f"scheduled jobs not run once per period: {twice}")
        if self.figures.get("killed_while_running_task") and not again:
            self.problems.append("the killed worker's task was not run again")

    def check_answers(self) -> None:
        answers = self.tally.answers
        restart = self.tally.events.get("database restart")
        restarted = self.tally.events.get("database restart: done")
        by_kind: defaultdict[str, Counter[int]] = defaultdict(Counter)
        for answer in answers:
            by_kind[answer.kind][answer.status] += 1
        self.figures["requests"] = {kind: dict(counts) for kind, counts in sorted(by_kind.items())}
        self.figures["requests_served"] = sum(1 for a in answers if 200 <= a.status < 500)
        server_errors = [a for a in answers if a.status >= 500 and a.status != 503]
        if server_errors:
            self.problems.append(f"{len(server_errors)} answers were server errors other than 503")
        unanswered = [a for a in answers if a.status == 0]
        self.figures["client_side"] = dict(self.tally.counts)
        if unanswered:
            detail = ", ".join(
                f"{a.kind} at {a.at:.1f} s after {a.seconds:.1f} s: {a.error}" for a in unanswered
            )
            self.problems.append(f"{len(unanswered)} requests got no HTTP answer at all ({detail})")
        if restart is None or restarted is None:
            self.problems.append("the database restart did not happen")
            return
        outage = [a for a in answers if a.status == 503]
        late = [a for a in outage if a.at > restarted + 15]
        slow = [a for a in outage if a.seconds > OUTAGE_SLOW_SECONDS]
        first_ok_after = min(
            (a.at for a in answers if a.at >= restarted and 200 <= a.status < 300), default=None
        )
        self.figures["database_outage"] = {
            "restart_seconds": round(restarted - restart, 1),
            "answers_503": len(outage),
            "answers_503_after_recovery": len(late),
            "slowest_503_seconds": round(max((a.seconds for a in outage), default=0.0), 2),
            "first_success_after_restart_seconds": (
                round(first_ok_after - restarted, 2) if first_ok_after is not None else None
            ),
        }
        if late:
            self.problems.append(f"{len(late)} requests failed long after the database was back")
        if slow:
            self.problems.append(f"{len(slow)} failing requests took over {OUTAGE_SLOW_SECONDS} s")
        if first_ok_after is None:
            self.problems.append("no request succeeded after the database restart")

    def report(self) -> str:
        lines = ["", "===== production rehearsal ====="]
        lines.append(json.dumps(self.figures, indent=2, default=str))
        if self.problems:
            lines.append("FAILED:")
            lines.extend(f"  - {problem}" for problem in self.problems)
        else:
            lines.append("passed: nothing lost, nothing sent twice, only clean 503s in the outage")
        return "\n".join(lines)


class ScanQueue:
    def __init__(self) -> None:
        self._items: list[str] = []
        self._ready = threading.Condition()

    def put(self, reference: str) -> None:
        with self._ready:
            self._items.append(reference)
            self._ready.notify()

    def take(self, timeout: float) -> str | None:
        with self._ready:
            if not self._items:
                self._ready.wait(timeout)
            return self._items.pop(0) if self._items else None

    def empty(self) -> bool:
        with self._ready:
            return not self._items


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--restart-database", default=default_restart_command())
    parser.add_argument("--applications", type=int, default=APPLICATIONS_PER_AGENCY)
    parser.add_argument("--pace", type=float, default=0.4, help="seconds between agency requests")
    parser.add_argument("--database-restart-at", type=float, default=20)
    parser.add_argument("--worker-kill-at", type=float, default=35)
    parser.add_argument("--gateway-down-at", type=float, default=45)
    parser.add_argument("--gateway-down", type=float, default=120, help="seconds")
    parser.add_argument("--after-gateway", type=float, default=20, help="seconds of load after")
    parser.add_argument("--drain-seconds", type=float, default=240)
    parser.add_argument("--report", type=Path)
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="tms-rehearsal-"))
    rehearsal = Rehearsal(args, workdir)

    def actor_failed(failure: threading.ExceptHookArgs) -> None:
        name = failure.thread.name if failure.thread else "?"
        rehearsal.problems.append(
            f"{name} stopped: {failure.exc_type.__name__}: {failure.exc_value}"
        )

    threading.excepthook = actor_failed
    try:
        rehearsal.run()
        rehearsal.check_answers()
    except Exception as error:  # report what happened, with the logs' place
        rehearsal.problems.append(f"the rehearsal itself failed: {type(error).__name__}: {error}")
    finally:
        if not args.keep:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
                admin_execute(
                    args.database_url,
                    f'DROP DATABASE IF EXISTS "{rehearsal.database}" WITH (FORCE)',
                )
    say(rehearsal.report())
    if args.report:
        outcome = {"figures": rehearsal.figures, "problems": rehearsal.problems}
        args.report.write_text(json.dumps(outcome, indent=2, default=str))
    if rehearsal.problems:
        say(f"logs: {workdir}")
    return 1 if rehearsal.problems else 0


if __name__ == "__main__":
    sys.exit(main())
