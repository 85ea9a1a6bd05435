"""The scanning session: a running count per outcome, the last scans and the one
acknowledgement that may still be undone. Kept in the officer's (server-side) session,
so a reload or the page without JavaScript shows the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from django.utils.translation import gettext as _

from tms.receipt.services import TONES, UNDO_WINDOW, ScanKind, ScanOutcome, Tone

SESSION_KEY = "receipt_scan"
RECENT = 12
UNDONE = "undone"
UNDO_REFUSED = "undo_refused"


@dataclass(frozen=True)
class UndoTarget:
    application_id: int
    version: int
    reference: str
    at: datetime

    @property
    def until(self) -> datetime:
        return self.at + UNDO_WINDOW


class ScanSession:
    """Read and update the scanning session stored under SESSION_KEY."""

    def __init__(self, session: SessionBase) -> None:
        self.session = session
        data = session.get(SESSION_KEY) or {}
        self.tally: dict[str, int] = dict(data.get("tally") or {})
        self.recent: list[dict[str, Any]] = list(data.get("recent") or [])
        self.last_ack: dict[str, Any] | None = data.get("last_ack")
        self.result: dict[str, Any] | None = data.get("result")

    def _save(self) -> None:
        self.session[SESSION_KEY] = {
            "tally": self.tally,
            "recent": self.recent,
            "last_ack": self.last_ack,
            "result": self.result,
        }

    def record(self, outcome: ScanOutcome, *, now: datetime | None = None) -> None:
        now = now or timezone.now()
        kind = str(outcome.kind)
        self.tally[kind] = self.tally.get(kind, 0) + 1
        entry = {
            "kind": str(outcome.kind),
            "reference": outcome.reference,
            "message": outcome.message,
            "at": now.isoformat(),
        }
        self.recent = [entry, *self.recent][:RECENT]
        if outcome.kind == ScanKind.ACKNOWLEDGED and outcome.application_id and outcome.version:
            self.last_ack = {
                "application": outcome.application_id,
                "version": outcome.version,
                "reference": outcome.reference,
                "at": now.isoformat(),
            }
        self.result = {**entry, "tone": str(outcome.tone)}
        self._save()

    def record_undo(self, *, reference: str, message: str) -> None:
        acknowledged = str(ScanKind.ACKNOWLEDGED)
        self.tally[acknowledged] = max(self.tally.get(acknowledged, 0) - 1, 0)
        self.tally[UNDONE] = self.tally.get(UNDONE, 0) + 1
        self.last_ack = None
        entry = {
            "kind": UNDONE,
            "reference": reference,
            "message": message,
            "at": timezone.now().isoformat(),
        }
        self.recent = [entry, *self.recent][:RECENT]
        self.result = {**entry, "tone": str(Tone.WARNING)}
        self._save()

    def note_result(self, *, kind: str, reference: str, message: str, tone: Tone) -> None:
        """Show an answer once (refused undo) without counting it."""
        self.result = {"kind": kind, "reference": reference, "message": message, "tone": str(tone)}
        self._save()

    def forget_undo(self) -> None:
        self.last_ack = None
        self._save()

    def reset(self) -> None:
        self.tally, self.recent, self.last_ack, self.result = {}, [], None, None
        self._save()

    def pop_result(self) -> dict[str, Any] | None:
        """The answer to the last form POST, shown once after the redirect."""
        result, self.result = self.result, None
        if result is None:
            return None
        self._save()
        return {**result, "label": label_of(result["kind"])}

    def undo_target(self, *, now: datetime | None = None) -> UndoTarget | None:
        """The last acknowledgement, while it may still be undone."""
        if not self.last_ack:
            return None
        target = UndoTarget(
            application_id=int(self.last_ack["application"]),
            version=int(self.last_ack["version"]),
            reference=str(self.last_ack["reference"]),
            at=datetime.fromisoformat(self.last_ack["at"]),
        )
        if (now or timezone.now()) > target.until:
            return None
        return target

    def tally_rows(self) -> list[dict[str, Any]]:
        rows = [
            {"kind": str(kind), "label": str(kind.label), "tone": str(TONES[kind]),
             "count": self.tally.get(kind, 0)}
            for kind in ScanKind
        ]  # fmt: skip
        rows.append(
            {"kind": UNDONE, "label": _("Undone"), "tone": str(Tone.WARNING),
             "count": self.tally.get(UNDONE, 0)}
        )  # fmt: skip
        return rows

    @property
    def total(self) -> int:
        """Scans made: an undone acknowledgement moved from one row to another."""
        return sum(self.tally.get(kind, 0) for kind in [*ScanKind.values, UNDONE])

    def recent_rows(self) -> list[dict[str, Any]]:
        return [
            {
                **entry,
                "label": label_of(entry["kind"]),
                "tone": str(tone_of(entry["kind"])),
                "time": _time(entry["at"]),
            }
            for entry in self.recent
        ]


def label_of(kind: str) -> str:
    if kind == UNDONE:
        return _("Undone")
    if kind == UNDO_REFUSED:
        return _("Not undone")
    return str(ScanKind(kind).label) if kind in ScanKind.values else kind


def tone_of(kind: str) -> Tone:
    return TONES.get(kind, Tone.WARNING)


def _time(text: str) -> str:
    return timezone.localtime(datetime.fromisoformat(text)).strftime("%H:%M:%S")
