"""A citizen tracks a reference on a small phone, in English and Swahili, with and without
JavaScript, in Debian's Chromium against the real production server.

axe-core (bundled in the axe-playwright-python wheel, never from a CDN) checks the form,
the result and the error pages: no serious or critical violation is allowed; lesser ones
are printed and saved next to the screenshots in test-output/<test name>/.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Page, Response, expect

from tms.applications.lifecycle import Status
from tms.applications.references import display, with_check_digit
from tms.tracking.selectors import mask_name
from tms.tracking.tests.browser.conftest import Site, Tracked

AXE_SOURCE = (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")
BLOCKING_IMPACTS = {"serious", "critical"}
PHONE_WIDTH = 360
PAGE_BUDGET_BYTES = 30 * 1024  # the result page, HTML and CSS, for slow connections
NOT_FOUND = (
    "We found no application with this reference. Check it against your slip; "
    "if it is right, the centre may not have recorded it yet."
)


def t(message: str, language: str) -> str:
    """The text the server shows for ``message`` in ``language`` (same catalogue)."""
    with translation.override(language):
        return gettext(message)


def status_label(status: str, language: str) -> str:
    with translation.override(language):
        return str(Status(status).label)


def screenshot(page: Page, output_dir: Path, name: str) -> Path:
    path = output_dir / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 0
    return path


def check_accessibility(page: Page, output_dir: Path, name: str) -> None:
    """Run axe-core in the page; fail on serious or critical violations, print the rest."""
    page.evaluate(AXE_SOURCE)
    results: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {resultTypes: ['violations']})"
    )
    violations: list[dict[str, Any]] = results["violations"]
    report = {"url": page.url, "axe": results["testEngine"]["version"], "violations": violations}
    (output_dir / f"{name}.axe.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    lines = [
        f"{v['impact']} {v['id']}: {v['help']} "
        f"({', '.join(str(node['target']) for node in v['nodes'])})"
        for v in violations
    ]
    for line in lines:
        print(f"axe {name}: {line}")
    blocking = [
        line for v, line in zip(violations, lines, strict=True) if v["impact"] in BLOCKING_IMPACTS
    ]
    assert not blocking, f"axe-core on {page.url}:\n" + "\n".join(blocking)


def assert_fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} scrolls sideways on a phone: {width} px wide"


def track(page: Page, typed: str, language: str) -> Response:
    """Type a reference in the form, as a citizen would, and send it."""
    field = page.get_by_label(t("Tracking reference", language))
    field.fill("")
    field.press_sequentially(typed)
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=t("Check status", language)).click()
    response = navigation.value
    assert response is not None
    return response


def follow_language_link(page: Page, name: str) -> Response:
    with page.expect_navigation() as navigation:
        page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()
    response = navigation.value
    assert response is not None
    return response


def expect_result(page: Page, application: Tracked, language: str) -> None:
    """Status, estimate, centre and masked name, in ``language``; never the full name."""
    expect(page.locator("html")).to_have_attribute("lang", language)
    label = status_label(application.status, language)
    expect(page).to_have_title(re.compile(f"^{display(application.reference)} – {label} – "))
    expect(page.locator("#status-h")).to_have_text(status_label(application.status, language))
    expect(page.locator(".status .ref")).to_have_text(display(application.reference))
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(mask_name(application.applicant_name))
    service = application.service_sw if language == "sw" else application.service_en
    expect(facts).to_contain_text(service)
    estimate = page.locator("section[aria-labelledby=estimate-h]")
    expect(estimate.get_by_role("heading")).to_have_text(t("When will it be ready?", language))
    expect(estimate.locator("p strong").first).to_have_text(re.compile(r"\b20\d\d$"))
    centre = page.locator("section[aria-labelledby=centre-h]")
    expect(centre).to_contain_text(application.centre_name)
    assert application.applicant_name not in page.content()


def assert_light(page: Page, response: Response) -> None:
    stylesheet = page.locator("link[rel=stylesheet]").get_attribute("href")
    assert stylesheet is not None
    css = page.request.get(page.url.split("/track/")[0] + stylesheet)
    assert css.ok
    size = len(response.body()) + len(css.body())
    assert size < PAGE_BUDGET_BYTES, f"result page is {size} bytes of HTML and CSS"


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
def test_a_citizen_tracks_a_reference_on_a_phone_in_both_languages(
    page: Page, site: Site, output_dir: Path, javascript: bool
) -> None:
    application = site.application
    typed = display(application.reference)  # with spaces, as printed on the slip
    assert " " in typed

    page.goto(site.url("/track/"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Track your application")
    assert_fits_the_phone(page)
    screenshot(page, output_dir, "01-form-en")
    if javascript:
        check_accessibility(page, output_dir, "01-form-en")

    response = track(page, typed, "en")
    assert response.status == 200
    expect_result(page, application, "en")
    assert_fits_the_phone(page)
    assert_light(page, response)
    screenshot(page, output_dir, "02-result-en")
    if javascript:
        check_accessibility(page, output_dir, "02-result-en")

    # The language link brings the same page back in Swahili...
    response = follow_language_link(page, "Kiswahili")
    assert response.status == 200
    expect_result(page, application, "sw")
    screenshot(page, output_dir, "03-result-sw-after-link")

    # ...and the choice is remembered on the next pages.
    page.goto(site.url("/track/"))
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    expect(page.get_by_role("navigation").get_by_role("link", name="English")).to_be_visible()
    assert_fits_the_phone(page)
    screenshot(page, output_dir, "04-form-sw")
    if javascript:
        check_accessibility(page, output_dir, "04-form-sw")

    response = track(page, typed, "sw")
    assert response.status == 200
    expect_result(page, application, "sw")
    assert_fits_the_phone(page)
    screenshot(page, output_dir, "05-result-sw")
    if javascript:
        check_accessibility(page, output_dir, "05-result-sw")

    follow_language_link(page, "English")
    expect_result(page, application, "en")


def test_a_typing_error_is_explained_in_both_languages(
    page: Page, site: Site, output_dir: Path
) -> None:
    reference = site.application.reference
    # Two neighbouring digits swapped: the check digit catches it.
    i = next(i for i in range(12) if reference[i] != reference[i + 1])
    mistyped = reference[:i] + reference[i + 1] + reference[i] + reference[i + 2 :]

    page.goto(site.url("/track/"))
    response = track(page, display(mistyped), "en")
    assert response.status == 400
    typing_error = "This reference has a typing error. Please check it and try again."
    expect(page.get_by_role("alert")).to_have_text(t(typing_error, "en"))
    expect(page).to_have_title(re.compile("^" + re.escape(t("Error:", "en"))))
    field = page.get_by_label(t("Tracking reference", "en"))
    expect(field).to_have_value(display(mistyped))
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", re.compile(r"\bref-error\b"))
    assert_fits_the_phone(page)
    screenshot(page, output_dir, "01-typing-error-en")
    check_accessibility(page, output_dir, "01-typing-error-en")

    response = follow_language_link(page, "Kiswahili")
    assert response.status == 400
    expect(page.locator("html")).to_have_attribute("lang", "sw")
    expect(page.get_by_role("alert")).to_have_text(t(typing_error, "sw"))
    assert t(typing_error, "sw") != typing_error  # really in Swahili
    screenshot(page, output_dir, "02-typing-error-sw")
    check_accessibility(page, output_dir, "02-typing-error-sw")

    # Well formed but unknown: told apart from a typing error, with the way out.
    unknown = with_check_digit("100000000000")
    assert unknown != reference
    response = track(page, display(unknown), "sw")
    assert response.status == 404
    alert = page.get_by_role("alert")
    expect(alert.locator("p").first).to_have_text(t(NOT_FOUND, "sw"))
    expect(alert.get_by_role("link")).to_have_attribute("href", "/track/lost/")
    expect(page.locator("main a[href='/track/lost/']")).to_have_count(1)
    expect(page).to_have_title(re.compile("^" + re.escape(t("Error:", "sw"))))
    screenshot(page, output_dir, "03-not-found-sw")
    check_accessibility(page, output_dir, "03-not-found-sw")
