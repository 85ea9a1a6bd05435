"""Synthetic application histories: realistic paths through the lifecycle, in bulk.

Pure computation, no database: a ``World`` (reference data as plain values) and a
seed go in, rows ready for ``executemany`` come out. That keeps it fast, lets a
worker process compute the next batch while the database writes this one, and
makes the output depend on the seed and today's date only.

Each application lives a plausible life, then the clock stops at the start of
today: whatever happened after that is cut off, which leaves the recent ones
lodged, processing or waiting for collection, and the older ones collected,
returned, rejected or cancelled. Turnaround is the service's promise times a
log-normal factor: most on time, about 30% late (counting citizens asked for
documents), and a long tail very late.
"""

from __future__ import annotations

import math
from bisect import bisect
from dataclasses import dataclass
from datetime import date, datetime, time
from random import Random
from typing import Any
from zoneinfo import ZoneInfo

from tms.applications import references
from tms.applications.lifecycle import TRANSITIONS, Action, Status, target_of
from tms.applications.models import ActorKind, Channel
from tms.demo import people
from tms.demo.draws import pick, whole
from tms.directory.working_days import WorkingCalendar

# Column order of the rows below; names are the models' attribute names.
APPLICATION_FIELDS = (
    "id",
    "reference",
    "service_id",
    "agency_id",
    "centre_id",
    "agency_ref",
    "status",
    "version",
    "applicant_name",
    "applicant_phone",
    "applicant_id_number",
    "language",
    "lodged_at",
    "due_date",
    "ready_at",
    "closed_at",
    "status_changed_at",
    "created_at",
    "representative_name",
    "representative_phone",
    "status_entered_at",
)
EVENT_FIELDS = (
    "application_id",
    "action",
    "from_status",
    "to_status",
    "occurred_at",
    "recorded_at",
    "actor_kind",
    "actor_user_id",
    "actor_label",
    "channel",
    "note",
    "version",
    "entered_at",
)
REFERENCE_COLUMN = APPLICATION_FIELDS.index("reference")

HISTORY_DAYS = 183  # about six months of lodgings
SWAHILI_SHARE = 0.30
ID_NUMBER_SHARE_OPTIONAL = 0.4  # given although the service does not ask for it

# How lives end (shares of all applications; the rest go the whole way).
P_CANCEL_EARLY = 0.012
P_REJECT = 0.03
P_ACTION_REQUIRED = 0.08
P_DISPATCHED_FIRST = 0.88  # the rest are acknowledged straight from processing
# Turnaround factor: log-normal around 0.8 of the promise (~27% late before any
# wait for the citizen), and a tail of very late ones.
TURNAROUND_MU = math.log(0.8)
TURNAROUND_SIGMA = 0.4
P_VERY_LATE = 0.05

NOTES_ACTION = (
    "Bring the original birth certificate to the centre.",
    "Fingerprints could not be read: come to the centre to have them taken again.",
    "Bring a parent's national ID card to the centre.",
    "The photo does not meet the requirements: come to the centre for a new one.",
    "Pay the balance of the fee at the centre.",
    "Bring the police abstract for the lost document.",
)
NOTES_REJECT = (
    "Duplicate application: the document was already issued.",
    "The supporting documents could not be verified.",
    "The details do not match the civil register.",
    "The payment could not be confirmed.",
)
NOTE_REJECT_UNRESOLVED = "The requested documents were not provided in time."
NOTE_CANCEL = "Cancelled at the applicant's request."
NOTE_RESOLVED = "Documents received at the counter."
NOTE_RETURN = "Not collected within the retention period; returned to the agency."

# The actions as plain strings: enum attribute access is slow in the hot loop.
LODGE = Action.LODGE.value
START_PROCESSING = Action.START_PROCESSING.value
REQUIRE_ACTION = Action.REQUIRE_ACTION.value
RESOLVE_ACTION = Action.RESOLVE_ACTION.value
DISPATCH = Action.DISPATCH.value
ACKNOWLEDGE_RECEIPT = Action.ACKNOWLEDGE_RECEIPT.value
HAND_OVER = Action.HAND_OVER.value
REJECT = Action.REJECT.value
RETURN = Action.RETURN.value
CANCEL = Action.CANCEL.value
_TARGET = {action.value: transition.target.value for action, transition in TRANSITIONS.items()}
_TERMINAL_ACTIONS = {HAND_OVER, REJECT, RETURN, CANCEL}
_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@dataclass(frozen=True)
class ServiceProfile:
    id: int
    agency_id: int
    agency_label: str
    turnaround_days: int
    retention_days: int
    requires_id_number: bool


@dataclass(frozen=True)
class CentreProfile:
    id: int
    county: str
    officers: tuple[tuple[int, str], ...]  # (user id, username) of counter officers
    manager: tuple[int, str]


@dataclass(frozen=True)
class World:
    """Everything synthesis needs, as plain picklable values."""

    services: tuple[ServiceProfile, ...]
    service_weights: tuple[float, ...]
    centres: tuple[CentreProfile, ...]
    centre_weights: tuple[float, ...]
    holidays: frozenset[date]
    today: date  # histories stop at the start of this local day
    time_zone: str
    # SQLite keeps UTC text without an offset (as Django writes it); PostgreSQL
    # gets an explicit +00:00 so the session time zone cannot shift it.
    timestamp_suffix: str = ""
    history_days: int = HISTORY_DAYS


@dataclass
class Batch:
    applications: list[tuple[Any, ...]]
    events: list[tuple[Any, ...]]


# Actor: (kind, user id, label, channel)
Actor = tuple[str, int | None, str, str]
# Step: (action, occurred epoch seconds, actor, note)
Step = tuple[str, int, Actor, str]


def _cumulative(weights: list[float] | tuple[float, ...]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


class HistorySynthesiser:
    """Makes batches of applications with their histories for one World."""

    def __init__(self, world: World) -> None:
        if not world.services or not world.centres:
            raise ValueError("synthesis needs at least one service and one centre")
        self.world = world
        self.zone = ZoneInfo(world.time_zone)
        self.calendar = WorkingCalendar(world.holidays)
        self._midnights: dict[int, int] = {}
        self.today_ordinal = world.today.toordinal()
        self.horizon = self._midnight(self.today_ordinal)
        self._service_cw = _cumulative(world.service_weights)
        self._centre_cw = _cumulative(world.centre_weights)
        self._communities = [people.COMMUNITIES[name] for name in people.COMMUNITY_NAMES]
        self._centre_community_cw = [
            people.community_weights(centre.county) for centre in world.centres
        ]
        self._lodging_days, self._lodging_cw = self._lodging_calendar()
        self._wd_cache: dict[tuple[int, int], int] = {}
        self._open_cache: dict[int, int] = {}
        self._due_cache: dict[tuple[int, int], str] = {}
        self._day_text: dict[int, str] = {}
        suffix = world.timestamp_suffix
        self._time_text = [
            f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}{suffix}" for s in range(_DAY)
        ]
        self._checked_paths: set[tuple[str, ...]] = set()
        # Actors, built once: staff per centre, a system per agency.
        self._counter = [
            [(ActorKind.STAFF.value, uid, name, Channel.COUNTER.value) for uid, name in c.officers]
            for c in world.centres
        ]
        self._staff_web = [
            [
                (ActorKind.STAFF.value, uid, name, Channel.STAFF_WEB.value)
                for uid, name in c.officers
            ]
            for c in world.centres
        ]
        self._manager = [
            (ActorKind.STAFF.value, c.manager[0], c.manager[1], Channel.STAFF_WEB.value)
            for c in world.centres
        ]
        self._agency = [
            (ActorKind.AGENCY.value, None, s.agency_label, Channel.AGENCY_API.value)
            for s in world.services
        ]

    # --- calendar helpers (all on day ordinals, cached: a few hundred distinct days) ----

    def _midnight(self, ordinal: int) -> int:
        day = date.fromordinal(ordinal)
        return int(datetime.combine(day, time(), tzinfo=self.zone).timestamp())

    def _lodging_calendar(self) -> tuple[list[int], list[float]]:
        """Days the centres were open in the window, weighted: Saturdays are half days,
        and use grows slowly as more citizens hear of the service."""
        first = self.today_ordinal - self.world.history_days
        days: list[int] = []
        weights: list[float] = []
        for ordinal in range(first, self.today_ordinal):
            day = date.fromordinal(ordinal)
            if day.weekday() == 6 or day in self.world.holidays:
                continue
            growth = 0.8 + 0.4 * (ordinal - first) / self.world.history_days
            days.append(ordinal)
            weights.append(growth * (0.45 if day.weekday() == 5 else 1.0))
        if not days:
            raise ValueError("no open day in the history window")
        return days, _cumulative(weights)

    def _working_add(self, ordinal: int, days: int) -> int:
        key = (ordinal, days)
        found = self._wd_cache.get(key)
        if found is None:
            found = self.calendar.add(date.fromordinal(ordinal), days).toordinal()
            self._wd_cache[key] = found
        return found

    def _open_from(self, ordinal: int) -> int:
        """The first day on or after ``ordinal`` when centres are open (Mon–Sat, no holiday)."""
        found = self._open_cache.get(ordinal)
        if found is None:
            found = ordinal
            while True:
                day = date.fromordinal(found)
                if day.weekday() != 6 and day not in self.world.holidays:
                    break
                found += 1
            self._open_cache[ordinal] = found
        return found

    def _due_date(self, lodged: int, turnaround: int) -> str:
        key = (lodged, turnaround)
        found = self._due_cache.get(key)
        if found is None:
            found = self.calendar.add(date.fromordinal(lodged), turnaround).isoformat()
            self._due_cache[key] = found
        return found

    def _staff_time(self, rng: Random, ordinal: int) -> int:
        """A moment in counter hours: 8:15–16:45, Saturdays 8:15–12:45."""
        saturday = (ordinal + 6) % 7 == 5  # date.weekday() without building a date
        end = 45_900 if saturday else 60_300
        return self._midnight_cached(ordinal) + whole(rng, 29_700, end)

    def _agency_time(self, rng: Random, ordinal: int) -> int:
        """Agency systems post updates from 7:00 to 19:00."""
        return self._midnight_cached(ordinal) + whole(rng, 25_200, 68_400)

    def _midnight_cached(self, ordinal: int) -> int:
        found = self._midnights.get(ordinal)
        if found is None:
            found = self._midnights[ordinal] = self._midnight(ordinal)
        return found

    def text(self, moment: int) -> str:
        """Epoch seconds as the UTC text the database stores."""
        day, second = divmod(moment, _DAY)
        prefix = self._day_text.get(day)
        if prefix is None:
            prefix = self._day_text[day] = date.fromordinal(_EPOCH_ORDINAL + day).isoformat() + " "
        return prefix + self._time_text[second]

    # --- one life ---------------------------------------------------------------------

    def _life(self, rng: Random, service_index: int, centre_index: int, lodged: int) -> list[Step]:
        """Every step this application will take, whether or not it has happened yet."""
        rnd = rng.random
        service = self.world.services[service_index]
        officers = self._counter[centre_index]
        officer = officers[int(rnd() * len(officers))]
        agency = self._agency[service_index]
        steps: list[Step] = [(LODGE, self._staff_time(rng, lodged), officer, "")]
        fate = rnd()
        if fate < P_CANCEL_EARLY:
            day = self._open_from(lodged + whole(rng, 0, 4))
            steps.append((CANCEL, self._staff_time(rng, day), officer, NOTE_CANCEL))
            return steps
        fate -= P_CANCEL_EARLY

        promised = service.turnaround_days
        processing_offset = min(pick(rng, (0, 0, 1, 1, 1, 2, 3)), promised)
        steps.append(
            (
                START_PROCESSING,
                self._agency_time(rng, self._working_add(lodged, processing_offset)),
                agency,
                "",
            )
        )
        factor = rng.lognormvariate(TURNAROUND_MU, TURNAROUND_SIGMA)
        if rnd() < P_VERY_LATE:
            factor *= rng.uniform(1.5, 3.5)
        ready_offset = max(processing_offset + 1, round(promised * factor))

        if fate < P_REJECT:
            offset = whole(rng, processing_offset, ready_offset)
            day = self._working_add(lodged, offset)
            steps.append((REJECT, self._agency_time(rng, day), agency, pick(rng, NOTES_REJECT)))
            return steps
        fate -= P_REJECT

        if fate < P_ACTION_REQUIRED:
            offset = whole(rng, processing_offset, ready_offset)
            asked = self._working_add(lodged, offset)
            steps.append(
                (
                    REQUIRE_ACTION,
                    self._agency_time(rng, asked),
                    agency,
                    pick(rng, NOTES_ACTION),
                )
            )
            outcome = rnd()
            if outcome < 0.8:
                waited = 1 + int(rng.expovariate(1 / 6))
                back = self._open_from(asked + waited)
                steps.append((RESOLVE_ACTION, self._staff_time(rng, back), officer, NOTE_RESOLVED))
                ready_offset += 1 + waited * 5 // 7
            elif outcome < 0.9:
                day = self._working_add(asked, whole(rng, 20, 46))
                steps.append((REJECT, self._agency_time(rng, day), agency, NOTE_REJECT_UNRESOLVED))
                return steps
            else:
                day = self._open_from(asked + whole(rng, 5, 41))
                steps.append((CANCEL, self._staff_time(rng, day), officer, NOTE_CANCEL))
                return steps

        ready_day = self._open_from(self._working_add(lodged, ready_offset))
        if rnd() < P_DISPATCHED_FIRST:
            lead = pick(rng, (1, 1, 2, 2, 3, 4))
            dispatched = self._working_add(lodged, max(processing_offset, ready_offset - lead))
            steps.append((DISPATCH, self._agency_time(rng, dispatched), agency, ""))
        # Receipt: a scan at the counter, or the agency's manifest uploaded on the staff web.
        receiver = self._staff_web[centre_index] if rnd() < 0.6 else officers
        steps.append(
            (
                ACKNOWLEDGE_RECEIPT,
                self._staff_time(rng, ready_day),
                receiver[int(rnd() * len(receiver))],
                "",
            )
        )

        roll = rnd()
        if roll < 0.5:
            waited = int(rng.expovariate(1 / 2.5))
        elif roll < 0.78:
            waited = whole(rng, 7, 31)
        elif roll < 0.88:
            waited = whole(rng, 31, 151)
        else:
            waited = -1  # never comes
        retention = service.retention_days
        if 0 <= waited <= retention:
            day = self._open_from(ready_day + waited)
            collector = officers[int(rnd() * len(officers))]
            steps.append((HAND_OVER, self._staff_time(rng, day), collector, ""))
        else:
            # Managers confirm returns in batches, some days after the deadline.
            day = self._open_from(ready_day + retention + whole(rng, 1, 22))
            steps.append(
                (
                    RETURN,
                    self._staff_time(rng, day),
                    self._manager[centre_index],
                    NOTE_RETURN,
                )
            )
        return steps

    def _check_path(self, path: tuple[str, ...]) -> None:
        """Each distinct sequence of actions is checked once against the lifecycle table."""
        current: Status | None = None
        for action in path:
            # ``entered_at`` is each previous event's time, which an undo would break.
            if action == Action.UNDO_RECEIPT:
                raise AssertionError("synthetic lives do not undo receipts")
            current = target_of(Action(action), current)
        self._checked_paths.add(path)

    # --- a batch ----------------------------------------------------------------------

    def batch(self, *, seed: str, first_id: int, count: int) -> Batch:
        """``count`` applications with ids from ``first_id``, and their events.

        References are drawn from the batch's own generator; the caller makes sure
        they are unused before writing (see ``loading``)."""
        rng = Random(seed)  # noqa: S311 - synthetic data, reproducible on purpose
        rnd = rng.random
        world = self.world
        horizon = self.horizon
        text = self.text
        services = rng.choices(range(len(world.services)), cum_weights=self._service_cw, k=count)
        centres = rng.choices(range(len(world.centres)), cum_weights=self._centre_cw, k=count)
        lodging = rng.choices(self._lodging_days, cum_weights=self._lodging_cw, k=count)
        phones = people.mobile_numbers(rng, count)
        communities = self._communities
        community_total = [cw[-1] for cw in self._centre_community_cw]
        lifecycle_target = _TARGET
        terminal = _TERMINAL_ACTIONS
        acknowledge = ACKNOWLEDGE_RECEIPT
        counter_channel = Channel.COUNTER.value
        api_channel = Channel.AGENCY_API.value
        applications: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []

        for index in range(count):
            app_id = first_id + index
            service_index = services[index]
            centre_index = centres[index]
            service = world.services[service_index]
            lodged = lodging[index]
            cw = self._centre_community_cw[centre_index]
            community = communities[bisect(cw, rnd() * community_total[centre_index])]
            name = people.full_name(rng, community)
            id_number = (
                people.id_number(rng)
                if service.requires_id_number or rnd() < ID_NUMBER_SHARE_OPTIONAL
                else ""
            )
            language = "sw" if rnd() < SWAHILI_SHARE else "en"
            reference = references.generate(rng)

            steps = self._life(rng, service_index, centre_index, lodged)
            path = tuple(step[0] for step in steps)
            if path not in self._checked_paths:
                self._check_path(path)

            status = ""
            previous = 0
            version = 0
            ready_at = closed_at = None
            lodged_at = created_at = changed_at = ""
            entered_at: str | None = None  # no history before the lodging
            for action, occurred, actor, note in steps:
                if occurred <= previous:
                    occurred = previous + whole(rng, 60, 1800)  # keep the order strict
                channel = actor[3]
                if channel == counter_channel:
                    lag = whole(rng, 2, 40)
                elif channel == api_channel:
                    lag = whole(rng, 20, 900)
                else:
                    lag = whole(rng, 5, 300)
                recorded = occurred + lag
                if recorded > horizon:
                    break  # not happened yet
                previous = occurred
                version += 1
                occurred_text = text(occurred)
                recorded_text = text(recorded)
                target = lifecycle_target[action]
                events.append(
                    (
                        app_id,
                        action,
                        status,
                        target,
                        occurred_text,
                        recorded_text,
                        actor[0],
                        actor[1],
                        actor[2],
                        channel,
                        note,
                        version,
                        entered_at,
                    )
                )
                # Synthetic lives never undo a receipt: each status starts at its event.
                status, entered_at = target, occurred_text
                changed_at = recorded_text
                if version == 1:
                    created_at = recorded_text
                    lodged_at = occurred_text
                if action == acknowledge:
                    ready_at = occurred_text
                elif action in terminal:
                    closed_at = occurred_text
            if version == 0:  # pragma: no cover - lodging days all end before the horizon
                raise AssertionError("an application was lodged after the horizon")
            applications.append(
                (
                    app_id,
                    reference,
                    service.id,
                    service.agency_id,
                    world.centres[centre_index].id,
                    None,
                    status,
                    version,
                    name,
                    phones[index],
                    id_number,
                    language,
                    lodged_at,
                    self._due_date(lodged, service.turnaround_days),
                    ready_at,
                    closed_at,
                    changed_at,
                    created_at,
                    "",
                    "",
                    entered_at,
                )
            )
        return Batch(applications=applications, events=events)
