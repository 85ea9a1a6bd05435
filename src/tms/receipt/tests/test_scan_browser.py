"""The page's script in Debian's Chromium (Playwright) against Django's live server: a scan
typed like a USB scanner (digits, then Enter) is answered without a reload, with colour,
icon and words in the live region; the count and the undo button follow; the mute choice
is remembered. axe-core checks the page for serious or critical problems.

Everything the database needs is done before the browser starts or after it stops:
Playwright's sync API keeps an event loop on this thread, which Django's ORM refuses."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tms.applications import references
from tms.applications.lifecycle import Status
from tms.applications.models import Application
from tms.testing.browser import CHROMIUM, CHROMIUM_ARGS
from tms.testing.staff import sign_in


@pytest.mark.django_db(transaction=True)
def test_scans_are_answered_without_a_reload_and_can_be_undone(
    live_server: Any, officer: Any, make_application: Any
) -> None:
    from playwright.sync_api import expect, sync_playwright

    first = make_application(Status.DISPATCHED)
    unknown = references.generate()
    while Application.objects.filter(reference=unknown).exists():
        unknown = references.generate()
    session_id = sign_in(Client(), officer).cookies[settings.SESSION_COOKIE_NAME].value
    axe = (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
    serious: list[str] = []

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-US")
            context.set_default_timeout(10_000)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session_id,
                  "url": live_server.url}]
            )  # fmt: skip
            page = context.new_page()
            page.goto(f"{live_server.url}/staff/scan/")
            page.evaluate("window.notReloaded = true")
            field = page.locator("#scan-code")
            expect(field).to_be_focused()

            field.type(first.reference)  # a scanner types the digits, then Enter
            field.press("Enter")
            result = page.locator("#scan-result")
            expect(result).to_have_class("scan-result tone-success")
            expect(result).to_contain_text("Received: now ready")
            expect(result).to_contain_text(references.display(first.reference))
            expect(page.locator('#scan-tally tr[data-kind="acknowledged"] .count')).to_have_text(
                "1"
            )
            expect(page.locator("#scan-undo")).to_be_visible()
            expect(field).to_have_value("")
            expect(field).to_be_focused()

            field.type(first.reference)
            field.press("Enter")
            expect(result).to_have_class("scan-result tone-warning")
            expect(result).to_contain_text("Already ready")

            field.type(unknown)
            field.press("Enter")
            expect(result).to_have_class("scan-result tone-error")
            expect(page.locator("#scan-total")).to_have_text("3")
            expect(page.locator("#scan-recent li")).to_have_count(3)

            mute = page.locator("#scan-mute")
            expect(mute).to_be_visible()
            mute.click()
            expect(mute).to_have_attribute("aria-pressed", "true")

            page.locator("#scan-undo button").click()
            expect(result).to_contain_text("Receipt undone")
            expect(page.locator("#scan-undo")).to_be_hidden()
            expect(page.locator('#scan-tally tr[data-kind="undone"] .count')).to_have_text("1")
            assert page.evaluate("window.notReloaded") is True

            page.evaluate(axe)
            found = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
            serious = [
                f"{v['id']}: {v['help']}"
                for v in found["violations"]
                if v["impact"] in {"serious", "critical"}
            ]

            page.reload()  # the count and the mute choice survive a reload
            expect(page.locator("#scan-total")).to_have_text("3")
            expect(page.locator("#scan-mute")).to_have_attribute("aria-pressed", "true")
        finally:
            browser.close()

    assert serious == []
    first.refresh_from_db()
    assert first.status == Status.DISPATCHED
