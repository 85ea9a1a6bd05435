"""Demo data and synthetic load: reference data, demo logins, applications in bulk.

``demo_seed`` is what ``tms seed_demo`` (and ``make demo``) runs; ``applications_generate``
is the bulk engine behind it and behind ``tms generate``.
"""

from __future__ import annotations

import base64
import hashlib
import multiprocessing
import os
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from random import Random

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tms.accounts.models import StaffProfile
from tms.accounts.roles import Role
from tms.applications import references
from tms.applications.models import Application
from tms.demo import catalogue, parallel, people
from tms.demo.histories import (
    REFERENCE_COLUMN,
    Batch,
    CentreProfile,
    HistorySynthesiser,
    ServiceProfile,
    World,
)
from tms.demo.loading import BulkWriter
from tms.demo.models import GenerationRun
from tms.directory.models import Agency, Centre, PublicHoliday, Service
from tms.directory.services import (
    agency_upsert,
    centre_upsert,
    public_holidays_load_kenya,
    service_upsert,
)

DEMO_SEED = 2026
DEMO_APPLICATIONS = 3_000
DEFAULT_BATCH = 10_000
OFFICERS_PER_CENTRE = 2

Progress = Callable[[int], None]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    staff_role: Role = Role.ADMINISTRATOR
    centre_code: str | None = None
    agency_code: str | None = None

    @property
    def totp_secret(self) -> str:
        """The authenticator key (base32) of this demo login: fixed, so that the demo can
        print it and ``tms demo_code`` can show the current code. Never used outside the demo."""
        return base64.b32encode(self.totp_key).decode()

    @property
    def totp_key(self) -> bytes:
        return hashlib.sha256(f"tms-demo-totp:{self.username}".encode()).digest()[:20]


DEMO_CENTRE = "GPO"
DEMO_AGENCY = "NRB"
DEMO_ADMIN = DemoLogin("admin", "demo-admin-2026", "administrator (superuser)")
DEMO_LOGINS = [
    DEMO_ADMIN,
    DemoLogin(
        "officer", "demo-officer-2026", "counter officer, Huduma Centre GPO",
        Role.COUNTER_OFFICER, centre_code=DEMO_CENTRE,
    ),
    DemoLogin(
        "manager", "demo-manager-2026", "centre manager, Huduma Centre GPO",
        Role.CENTRE_MANAGER, centre_code=DEMO_CENTRE,
    ),
    DemoLogin(
        "agency", "demo-agency-2026", "agency officer, National Registration Bureau",
        Role.AGENCY_OFFICER, agency_code=DEMO_AGENCY,
    ),
    DemoLogin("analyst", "demo-analyst-2026", "analyst", Role.ANALYST),
]  # fmt: skip


@dataclass(frozen=True)
class ReferenceCounts:
    centres: int
    agencies: int
    services: int
    holidays: int


@dataclass(frozen=True)
class GenerationReport:
    applications: int
    events: int
    seconds: float
    first_application_id: int

    @property
    def applications_per_second(self) -> float:
        return self.applications / self.seconds if self.seconds else 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class DemoSeedReport:
    reference: ReferenceCounts
    generation: GenerationReport | None  # None when the demo applications existed already
    logins: list[DemoLogin]


# --- reference data -------------------------------------------------------------------------


def reference_counts() -> ReferenceCounts:
    return ReferenceCounts(
        centres=Centre.objects.count(),
        agencies=Agency.objects.count(),
        services=Service.objects.count(),
        holidays=PublicHoliday.objects.count(),
    )


@transaction.atomic
def reference_data_load_demo() -> None:
    """Put the demo centres, agencies and services in the database, as catalogued
    (edits to these rows are reset: the demo starts from a known state)."""
    for centre in catalogue.DEMO_CENTRES:
        centre_upsert(code=centre.code, **centre.fields())
    agencies = {a.code: agency_upsert(code=a.code, **a.fields()) for a in catalogue.DEMO_AGENCIES}
    for service in catalogue.DEMO_SERVICES:
        service_upsert(code=service.code, agency=agencies[service.agency], **service.fields())


@transaction.atomic
def reference_data_ensure_design_point() -> None:
    """Add what is missing to reach the design point (60 centres, 40 agencies, 200
    services): the demo catalogue's rows that are missing, then county centres,
    county governments and their permits while below the design point. Existing rows
    are never changed."""
    catalogued_agencies = {a.code: a for a in catalogue.DEMO_AGENCIES}
    catalogued_agencies.update({a.code: a for a in catalogue.design_point_agencies()})

    def agency(code: str) -> Agency:
        found, _ = Agency.objects.get_or_create(
            code=code, defaults=catalogued_agencies[code].fields()
        )
        return found

    for entry in catalogue.DEMO_CENTRES:
        Centre.objects.get_or_create(code=entry.code, defaults=entry.fields())
    for a in catalogue.DEMO_AGENCIES:
        agency(a.code)
    for s in catalogue.DEMO_SERVICES:
        if not Service.objects.filter(code=s.code).exists():
            Service.objects.create(code=s.code, agency=agency(s.agency), **s.fields())

    for entry in catalogue.design_point_centres():
        if Centre.objects.count() >= catalogue.DESIGN_CENTRES:
            break
        Centre.objects.get_or_create(code=entry.code, defaults=entry.fields())
    for a in catalogue.design_point_agencies():
        if Agency.objects.count() >= catalogue.DESIGN_AGENCIES:
            break
        agency(a.code)
    for s in catalogue.design_point_services():
        if Service.objects.count() >= catalogue.DESIGN_SERVICES:
            break
        if not Service.objects.filter(code=s.code).exists():
            Service.objects.create(code=s.code, agency=agency(s.agency), **s.fields())


def holidays_ensure(*, today: date) -> int:
    """Kenyan public holidays for last year, this year and next year."""
    return public_holidays_load_kenya(years=range(today.year - 1, today.year + 2))


# --- people who sign in or act ------------------------------------------------------------


def demo_login_ensure(login: DemoLogin) -> DemoLogin:
    """A demo login with its documented password, role and authenticator key (each reset
    if it was changed), so that the printed instructions always work."""
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=login.username,
        defaults={"first_name": "Demo", "last_name": login.staff_role.label.title()},
    )
    administrator = login.staff_role == Role.ADMINISTRATOR
    user.is_staff = user.is_superuser = administrator
    user.is_active = True
    if created or not user.check_password(login.password):
        user.set_password(login.password)
    user.save()
    StaffProfile.objects.update_or_create(
        user=user,
        defaults={
            "role": login.staff_role,
            "centre": Centre.objects.get(code=login.centre_code) if login.centre_code else None,
            "agency": Agency.objects.get(code=login.agency_code) if login.agency_code else None,
        },
    )
    TOTPDevice.objects.filter(user=user).exclude(key=login.totp_key.hex()).delete()
    TOTPDevice.objects.get_or_create(
        user=user, key=login.totp_key.hex(), defaults={"name": "demo", "confirmed": True}
    )
    return login


def demo_admin_ensure() -> DemoLogin:
    return demo_login_ensure(DEMO_ADMIN)


def demo_logins() -> list[DemoLogin]:
    return list(DEMO_LOGINS)


def demo_code(username: str) -> str:
    """The current authenticator code of a demo login (what the phone app would show)."""
    login = next((entry for entry in DEMO_LOGINS if entry.username == username), None)
    if login is None:
        raise KeyError(username)
    return f"{TOTP(login.totp_key, step=30, t0=0, digits=6, drift=0).token():06d}"


def _staff_usernames(centre: Centre) -> list[str]:
    prefix = centre.code.lower()
    return [f"{prefix}.officer{n}" for n in range(1, OFFICERS_PER_CENTRE + 1)] + [
        f"{prefix}.manager"
    ]


def centre_staff_ensure(*, centres: Sequence[Centre]) -> dict[int, CentreProfile]:
    """Counter officers and a manager for each centre, who act in synthetic histories.

    They have their roles but cannot sign in (no usable password); the demo logins can."""
    user_model = get_user_model()
    wanted = {name: centre for centre in centres for name in _staff_usernames(centre)}
    existing = set(
        user_model.objects.filter(username__in=list(wanted)).values_list("username", flat=True)
    )
    new = []
    for username, centre in wanted.items():
        if username in existing:
            continue
        rng = Random(username)  # noqa: S311 - a stable made-up name per username
        community = people.draw_community(rng, people.community_weights(centre.county))
        given, *rest = people.full_name(rng, community).split()
        user = user_model(username=username, first_name=given, last_name=" ".join(rest))
        user.set_unusable_password()
        new.append(user)
    user_model.objects.bulk_create(new)
    ids = dict(user_model.objects.filter(username__in=list(wanted)).values_list("username", "pk"))
    with_profile = set(
        StaffProfile.objects.filter(user_id__in=ids.values()).values_list("user_id", flat=True)
    )
    StaffProfile.objects.bulk_create(
        StaffProfile(
            user_id=ids[username],
            centre=centre,
            role=Role.CENTRE_MANAGER if username.endswith(".manager") else Role.COUNTER_OFFICER,
        )
        for username, centre in wanted.items()
        if ids[username] not in with_profile
    )
    profiles = {}
    for centre in centres:
        *officers, manager = _staff_usernames(centre)
        profiles[centre.pk] = CentreProfile(
            id=centre.pk,
            county=centre.county,
            officers=tuple((ids[name], name) for name in officers),
            manager=(ids[manager], manager),
        )
    return profiles


# --- applications in bulk -------------------------------------------------------------------


def synthesis_world(
    *,
    services: Sequence[Service],
    centres: Sequence[Centre],
    staff: dict[int, CentreProfile],
    today: date,
    timestamp_suffix: str,
) -> World:
    weights = catalogue.weights_by_code()
    return World(
        services=tuple(
            ServiceProfile(
                id=s.pk,
                agency_id=s.agency_id,
                agency_label=f"{s.agency.code} system",
                turnaround_days=s.turnaround_days,
                retention_days=s.retention_days,
                requires_id_number=s.requires_id_number,
            )
            for s in services
        ),
        service_weights=tuple(weights.get(s.code, 1.0) for s in services),
        centres=tuple(staff[c.pk] for c in centres),
        centre_weights=tuple(weights.get(c.code, 1.0) for c in centres),
        holidays=frozenset(PublicHoliday.objects.values_list("date", flat=True)),
        today=today,
        time_zone=timezone.get_current_timezone_name(),
        timestamp_suffix=timestamp_suffix,
    )


def default_workers(count: int, batch_size: int) -> int:
    """Processes to compute batches ahead while this one writes.

    None on two CPUs or fewer: measured on a 2-vCPU machine, a worker made the run
    slower (the CPUs are shared, and each batch is pickled across); nor for a run
    of one or two batches, where the start-up costs more than it saves."""
    cpus = os.cpu_count() or 1
    if cpus <= 2 or count <= 2 * batch_size:
        return 0
    return min(3, cpus - 2)


def _batches(world: World, plan: list[tuple[str, int, int]], workers: int) -> Iterator[Batch]:
    """The planned batches in order, computed ahead in ``workers`` processes (or here)."""
    if workers <= 0:
        synthesiser = HistorySynthesiser(world)
        for seed, first_id, count in plan:
            yield synthesiser.batch(seed=seed, first_id=first_id, count=count)
        return
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=parallel.start,
        initargs=(pickle.dumps(world),),
    )
    try:
        pending: list[Future[Batch]] = []
        ahead = workers + 1  # bounded, so memory stays flat however many batches
        queue = iter(plan)
        for item in queue:
            pending.append(pool.submit(parallel.batch, *item))
            if len(pending) >= ahead:
                break
        while pending:
            batch = pending.pop(0).result()
            nxt = next(queue, None)
            if nxt is not None:
                pending.append(pool.submit(parallel.batch, *nxt))
            yield batch
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _unique_references(
    batch: Batch, *, seen: set[str], writer: BulkWriter | None, rng: Random
) -> None:
    """Make the batch's references unused: not in this run, not in the database
    (``writer`` None: the table was empty when the run began, so only this run counts)."""
    rows = batch.applications
    existing = (
        writer.existing_references([row[REFERENCE_COLUMN] for row in rows]) if writer else set()
    )
    for index, row in enumerate(rows):
        reference = row[REFERENCE_COLUMN]
        if reference in seen or reference in existing:
            while True:
                reference = references.generate(rng)
                if reference not in seen and not (
                    writer and writer.existing_references([reference])
                ):
                    break
            rows[index] = (
                *row[:REFERENCE_COLUMN],
                reference,
                *row[REFERENCE_COLUMN + 1 :],
            )
        seen.add(reference)


def applications_generate(
    *,
    count: int,
    seed: int,
    services: Sequence[Service],
    centres: Sequence[Centre],
    label: str = GenerationRun.SYNTHETIC,
    batch_size: int = DEFAULT_BATCH,
    workers: int | None = None,
    today: date | None = None,
    progress: Progress | None = None,
) -> GenerationReport:
    """Write ``count`` synthetic applications with full histories, a transaction per batch.

    Deterministic for a given seed, date, reference data and number of earlier runs
    with the same label and seed (each run draws a fresh stream)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.perf_counter()
    today = today or timezone.localdate()
    writer = BulkWriter()
    writer.prepare_session()
    staff = centre_staff_ensure(centres=centres)
    world = synthesis_world(
        services=services,
        centres=centres,
        staff=staff,
        today=today,
        timestamp_suffix=writer.timestamp_suffix,
    )
    table_was_empty = not Application.objects.exists()
    with transaction.atomic():
        ordinal = GenerationRun.objects.filter(label=label, seed=seed).count()
        first_id = writer.reserve_ids(count)
        run = GenerationRun.objects.create(
            label=label,
            seed=seed,
            requested=count,
            first_application_id=first_id,
            started_at=timezone.now(),
        )
    stream = f"{label}:{seed}:{ordinal}"
    plan = [
        (f"{stream}:{number}", first_id + start, min(batch_size, count - start))
        for number, start in enumerate(range(0, count, batch_size))
    ]
    if workers is None:
        workers = default_workers(count, batch_size)
    seen: set[str] = set()
    redraw = Random(f"{stream}:redraw")  # noqa: S311 - reproducible synthetic data
    applications = events = 0
    for batch in _batches(world, plan, workers):
        _unique_references(batch, seen=seen, writer=None if table_was_empty else writer, rng=redraw)
        with transaction.atomic():
            writer.write(batch)
        applications += len(batch.applications)
        events += len(batch.events)
        if progress is not None:
            progress(len(batch.applications))
    run.applications = applications
    run.events = events
    run.finished_at = timezone.now()
    run.save(update_fields=["applications", "events", "finished_at"])
    return GenerationReport(
        applications=applications,
        events=events,
        seconds=time.perf_counter() - started,
        first_application_id=first_id,
    )


def design_point_reference() -> tuple[list[Service], list[Centre]]:
    """Every active service and centre, in code order (the order fixes the output)."""
    services = list(
        Service.objects.filter(is_active=True).select_related("agency").order_by("code")
    )
    centres = list(Centre.objects.filter(is_active=True).order_by("code"))
    return services, centres


def demo_reference() -> tuple[list[Service], list[Centre]]:
    """The demo catalogue's services and centres only, in code order."""
    services: QuerySet[Service] = Service.objects.filter(
        code__in=[s.code for s in catalogue.DEMO_SERVICES]
    )
    centres = Centre.objects.filter(code__in=[c.code for c in catalogue.DEMO_CENTRES])
    return list(services.select_related("agency").order_by("code")), list(centres.order_by("code"))


def demo_applications_exist() -> bool:
    return GenerationRun.objects.filter(
        label=GenerationRun.DEMO, finished_at__isnull=False
    ).exists()


def demo_seed(
    *,
    applications: int = DEMO_APPLICATIONS,
    today: date | None = None,
    progress: Progress | None = None,
) -> DemoSeedReport:
    """Reference data, holidays, the demo logins and (once) the demo applications.

    Idempotent: a second run resets the demo reference data and logins to their
    documented state and adds no applications."""
    today = today or timezone.localdate()
    with transaction.atomic():
        reference_data_load_demo()
        holidays_ensure(today=today)
        logins = [demo_login_ensure(login) for login in DEMO_LOGINS]
    generation = None
    if not demo_applications_exist():
        services, centres = demo_reference()
        # One transaction: an interrupted seed leaves nothing half-made, and the
        # next run starts over.
        with transaction.atomic():
            generation = applications_generate(
                count=applications,
                seed=DEMO_SEED,
                services=services,
                centres=centres,
                label=GenerationRun.DEMO,
                batch_size=max(applications, 1),
                workers=0,
                today=today,
                progress=progress,
            )
    return DemoSeedReport(reference=reference_counts(), generation=generation, logins=logins)


def synthetic_reference_prepare(*, design_point: bool, today: date) -> ReferenceCounts:
    """Reference data for ``generate``: the design point unless told to use what exists."""
    if design_point:
        reference_data_ensure_design_point()
    holidays_ensure(today=today)
    return reference_counts()
