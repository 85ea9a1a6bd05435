"""The back office as centre staff use it, in Chromium: sign in with a TOTP code, lodge
and print a slip, scan 50 slips in a row, upload a manifest with bad rows and read the
report, hand over with a one-time code. A screenshot of each is saved under
test-output/<test name>/."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tms.accounts.tests.browser.conftest import StaffSite, sign_in

GPO_NOT_YET_READY = """
    SELECT a.reference FROM applications_application a
    JOIN directory_centre c ON c.id = a.centre_id
    WHERE c.code = 'GPO' AND a.status IN ('lodged', 'processing', 'dispatched')
    ORDER BY a.id LIMIT ?
"""


def test_sign_in_with_a_totp_code(desk: Page, staff_site: StaffSite, output_dir: Path) -> None:
    sign_in(desk, staff_site, "manager", shot=output_dir / "code.png")
    expect(desk.get_by_role("heading", name="Back office")).to_be_visible()
    expect(desk.get_by_role("link", name="Audit trail").first).to_be_visible()
    desk.screenshot(path=str(output_dir / "signed-in.png"), full_page=True)


def test_lodge_and_print_a_slip(desk: Page, staff_site: StaffSite, output_dir: Path) -> None:
    sign_in(desk, staff_site, "officer")
    desk.goto(staff_site.url("/staff/lodge/"))
    desk.get_by_label("Service").select_option(label="Birth certificate")
    desk.get_by_label("Citizen's full name").fill("Achieng Atieno Odhiambo")
    desk.get_by_label("Citizen's mobile phone").fill("0712 345 678")
    desk.get_by_role("button", name="Lodge and print the slip").click()
    desk.wait_for_url(re.compile(r"/staff/lodge/\d{13}/slip/"))
    reference = re.search(r"/staff/lodge/(\d{13})/slip/", desk.url).group(1)  # type: ignore[union-attr]
    grouped = f"{reference[:4]} {reference[4:8]} {reference[8:12]} {reference[12]}"
    expect(desk.get_by_text(grouped).first).to_be_visible()
    assert desk.locator(".slip svg").count() >= 2  # the barcode and the QR code
    # No phone on the slip (the reference itself may happen to hold the same digits).
    body = desk.content().replace(grouped, "").replace(reference, "")
    assert "0712" not in body and "345 678" not in body and "345678" not in body
    desk.emulate_media(media="print")
    desk.screenshot(path=str(output_dir / "slip-a6.png"), full_page=True)
    desk.pdf(path=str(output_dir / "slip-a6.pdf"), width="105mm", height="148mm")
    desk.goto(desk.url.split("?")[0] + "?paper=80mm")
    desk.screenshot(path=str(output_dir / "slip-80mm.png"), full_page=True)
    # The lodged SMS is in the outbox for the citizen.
    rows = staff_site.query(
        'SELECT m."to" FROM notifications_message m JOIN applications_application a '
        "ON a.id = m.application_id WHERE a.reference = ? AND m.event = 'lodged'",
        (reference,),
    )
    assert rows == [("+254712345678",)]


def test_hand_over_with_a_one_time_code(
    desk: Page, staff_site: StaffSite, output_dir: Path
) -> None:
    found = staff_site.query(
        """SELECT a.reference, a.applicant_id_number FROM applications_application a
           JOIN directory_centre c ON c.id = a.centre_id
           JOIN directory_service s ON s.id = a.service_id
           WHERE c.code = 'GPO' AND a.status = 'ready' AND s.handover_code_required
           ORDER BY a.id LIMIT 1"""
    )
    assert found, "the demo data has no ready passport at Huduma Centre GPO"
    reference, id_number = found[0]
    sign_in(desk, staff_site, "officer")
    desk.goto(staff_site.url(f"/staff/find/{reference}/"))
    desk.get_by_role("button", name=re.compile("Send a code")).click()
    messages = staff_site.query(
        "SELECT m.body FROM notifications_message m JOIN applications_application a "
        "ON a.id = m.application_id WHERE a.reference = ? AND m.event = 'handover_code'",
        (reference,),
    )
    assert len(messages) == 1
    code = re.search(r"\b(\d{6})\b", str(messages[0][0])).group(1)  # type: ignore[union-attr]
    desk.get_by_label("the citizen", exact=True).check()
    desk.get_by_label(re.compile("Citizen's ID or birth certificate number")).fill(str(id_number))
    desk.get_by_label("Code the citizen received by SMS").fill(code)
    desk.screenshot(path=str(output_dir / "before.png"), full_page=True)
    desk.get_by_role("button", name="Hand over the document").click()
    expect(desk.get_by_role("heading", name="Handed over")).to_be_visible()
    expect(desk.get_by_text("The SMS code was checked.")).to_be_visible()
    desk.screenshot(path=str(output_dir / "handed-over.png"), full_page=True)
    status = staff_site.query(
        "SELECT status FROM applications_application WHERE reference = ?", (reference,)
    )
    assert status == [("collected",)]


def test_scan_fifty_slips_in_a_row(desk: Page, staff_site: StaffSite, output_dir: Path) -> None:
    references = [str(row[0]) for row in staff_site.query(GPO_NOT_YET_READY, (50,))]
    assert len(references) == 50, "the demo data has fewer than 50 open applications at GPO"
    sign_in(desk, staff_site, "officer")
    desk.goto(staff_site.url("/staff/scan/"))
    field = desk.get_by_label("Scan or type a reference")
    url_before = desk.url
    for reference in references:
        # As a USB scanner does: the digits, then Enter, into the focused field.
        field.type(reference, delay=0)
        field.press("Enter")
    expect(desk.locator("#scan-total")).to_have_text("50", timeout=30_000)
    expect(desk.locator('#scan-tally tr[data-kind="acknowledged"] .count')).to_have_text("50")
    assert desk.url == url_before  # answered without a page reload
    desk.screenshot(path=str(output_dir / "fifty-scans.png"), full_page=True)
    marks = ", ".join("?" for _ in references)
    ready = staff_site.query(
        f"SELECT count(*) FROM applications_application WHERE status = 'ready' "  # noqa: S608
        f"AND reference IN ({marks})",
        tuple(references),
    )
    assert ready == [(50,)]
    sms = staff_site.query(
        f"SELECT count(*) FROM notifications_message m JOIN applications_application a "  # noqa: S608
        f"ON a.id = m.application_id WHERE m.event = 'ready' AND a.reference IN ({marks})",
        tuple(references),
    )
    assert sms == [(50,)]


def test_upload_a_manifest_with_bad_rows_and_read_the_report(
    desk: Page, staff_site: StaffSite, output_dir: Path, tmp_path: Path
) -> None:
    good = [str(row[0]) for row in staff_site.query(GPO_NOT_YET_READY, (8,))]
    assert len(good) == 8
    typo = good[0][:-1] + str((int(good[0][-1]) + 1) % 10)  # a wrong check digit
    sheet = tmp_path / "manifest.csv"
    sheet.write_text(
        "Reference;Document\n"
        + "".join(f"{reference};ID card\n" for reference in good)
        + f"{good[1]};ID card (again)\n"  # duplicate in the file
        + f"{typo};typo\n"
        + "4.82177E+12;mangled by Excel\n"
        + '=HYPERLINK("http://x","click");formula\n'
        + "1000000000009;unknown\n",
        encoding="utf-8-sig",
    )
    sign_in(desk, staff_site, "officer")
    desk.goto(staff_site.url("/staff/manifests/"))
    desk.get_by_label(re.compile("Manifest file")).set_input_files(str(sheet))
    desk.get_by_role("button", name="Check the file").click()
    expect(desk.get_by_role("heading", name="What the check found")).to_be_visible()
    expect(desk.get_by_role("heading", name="Rows with problems")).to_be_visible()
    counts = desk.locator("table.counts").inner_text()
    assert "13" in counts  # all rows
    desk.screenshot(path=str(output_dir / "preview.png"), full_page=True)
    # Nothing is applied before the officer commits.
    marks = ", ".join("?" for _ in good)
    ready_sql = (
        f"SELECT count(*) FROM applications_application WHERE status = 'ready' "  # noqa: S608
        f"AND reference IN ({marks})"
    )
    assert staff_site.query(ready_sql, tuple(good)) == [(0,)]
    desk.get_by_role("button", name=re.compile("Mark 8 documents ready")).click()
    expect(
        desk.get_by_text(re.compile("8 of 8 valid rows handled: 8 marked ready"))
    ).to_be_visible()
    desk.screenshot(path=str(output_dir / "applied.png"), full_page=True)
    assert staff_site.query(ready_sql, tuple(good)) == [(8,)]
