"""The web dashboard in a real browser (headless Chromium) against ``ferry serve`` and the real RGW: log
in, watch a group migrate, stop, start, a refused delete, failed objects shown as text, retry with the
right keys, another project's groups never shown. Screenshots of each run go to the tests' output."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import pytest
from tests.conftest import MiB
from tests.support.browser import chrome, output_dir
from tests.support.service import Service, api_for, create, digests, node, put_objects

pytestmark = pytest.mark.integration

PROJECT = "dash"
OTHER = "dash-other"
HOSTILE = "<img src=x onerror=window.pwned=1>.txt"
HOSTILE_2 = "x/<script>window.pwned=2</script>.bin"


# --- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service(tmp_path_factory, rgw):
    root = tmp_path_factory.mktemp("dashboard-service")
    (root / "home").mkdir()
    started = Service(home=root / "home", data_dir=root / "svc").start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def token(service):
    return service.token(PROJECT)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def driver(downloads):
    try:
        browser = chrome(downloads)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield browser
    browser.quit()


@pytest.fixture
def page(driver, service, token):
    """The dashboard, signed in as PROJECT, at 1280 px."""
    driver.set_window_size(1280, 900)
    driver.get(service.url + "/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(service.url + "/#/")
    login(driver, token)
    yield driver
    assert script_errors(driver) == []


@pytest.fixture
def seen():
    return []


# --- helpers ------------------------------------------------------------------------------------------------


def css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def all_css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def wait(driver, condition, timeout: float = 30, message: str = ""):
    """Poll ``condition(driver)`` until it is truthy; answers its value."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def safe(d):
        try:
            return condition(d)
        except (StaleElementReferenceException, WebDriverException):
            return False

    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(safe, message)


def click(driver, selector: str, timeout: float = 30) -> None:
    """Find ``selector`` and click it, again when the page redrew it in between (a stale element) or it is
    not there yet: the group page redraws its actions every few seconds."""

    def clicked(d):
        css(d, selector).click()
        return True

    wait(driver, clicked, timeout, f"could not click {selector}")


def texts(driver, selector: str) -> list[str]:
    """The visible text of every element ``selector`` matches, read at one instant (the page redraws its
    tables every few seconds: elements found earlier may be gone by the time they are read)."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())", selector
    )


def text(driver, selector: str) -> str:
    found = texts(driver, selector)
    return found[0] if found else ""


def login(driver, token: str) -> None:
    field = wait(driver, lambda d: css(d, "input[name=token]"))
    field.clear()
    field.send_keys(token)
    click(driver, "form.login button[type=submit]")
    wait(driver, lambda d: all_css(d, "#groups tr"), message="the group list did not appear")


def row_status(driver, group_id: str) -> str | None:
    found = texts(driver, f'tr[data-group="{group_id}"] .badge')
    return found[0] if found else None


def group_status(driver) -> str:
    return text(driver, "#group-status .badge")


def open_group(driver, group_id: str) -> None:
    """Click the group's row in the list, as a person would."""
    wait(driver, lambda d: all_css(d, f'tr[data-group="{group_id}"]'), message="the group is not listed")
    click(driver, f'tr[data-group="{group_id}"] a.group-link')
    wait(driver, lambda d: css(d, "#group-title").text, message="the group page did not open")


def script_errors(driver) -> list[str]:
    """Console messages of scripts that failed or were blocked (CSP), not of refused API calls."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "Failed to load resource" not in entry["message"]
    ]


def no_script_ran(driver) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    assert driver.execute_script("return window.pwned === undefined")
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 - raises when there is none


def screenshot(driver, name: str, width: int, selector: str) -> Path:
    """A screenshot of the whole page as a screen ``width`` px wide shows it (390: a phone), once
    ``selector`` is on it."""
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        wait(driver, lambda d: all_css(d, selector))
        time.sleep(0.6)  # the layout settles (the chart is drawn again at the new width)
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, 5000)})
        time.sleep(0.3)
        data = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png"})["data"]
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    path = output_dir() / f"{name}-{width}.png"
    path.write_bytes(base64.b64decode(data))
    assert path.stat().st_size > 10_000
    return path


def fill_credentials(driver, rgw, second_destination: bool = True) -> None:
    for name, value in (
        ("src_ak", rgw.access_key),
        ("src_sk", rgw.secret_key),
        ("dst_ak", rgw.access_key_2 if second_destination else rgw.access_key),
        ("dst_sk", rgw.secret_key_2 if second_destination else rgw.secret_key),
    ):
        field = css(driver, f"dialog input[name={name}]")
        field.clear()
        field.send_keys(value)


# --- tests --------------------------------------------------------------------------------------------------


def test_the_page_loads_nothing_from_elsewhere_under_a_strict_policy(service):
    page = httpx.get(service.url + "/", headers={"Accept": "text/html"}, trust_env=False)  # as a browser asks
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    versions = httpx.get(service.url + "/", trust_env=False)  # any other client: OMS's API versions
    assert versions.json()["versions"][0]["id"] == "v2"
    policy = page.headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'"):
        assert directive in policy
    assert "unsafe" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    for asset in ("app.js", "app.css", "favicon.svg"):
        answer = httpx.get(f"{service.url}/static/{asset}", trust_env=False)
        assert answer.status_code == 200 and answer.headers["content-security-policy"] == policy
        loads = [
            part for part in answer.text.split("http")[1:] if not part.startswith("://www.w3.org/2000/svg")
        ]
        assert loads == [], asset  # no address of another host
    assert "http" not in page.text
    assert httpx.get(f"{service.url}/static/../service.db", trust_env=False).status_code == 404


def test_a_wrong_token_is_refused_on_the_form(driver, service):
    driver.set_window_size(390, 844)
    driver.get(service.url + "/")
    driver.execute_script("sessionStorage.clear()")
    driver.get(service.url + "/#/")
    field = wait(driver, lambda d: css(d, "input[name=token]"))
    field.send_keys("not-a-token-of-this-service")
    click(driver, "form.login button[type=submit]")
    error = wait(driver, lambda d: css(d, "#login-error").text)
    assert "not valid" in error
    assert all_css(driver, "#groups") == []
    assert driver.execute_script("return sessionStorage.getItem('ferry.token')") is None
    assert "not-a-token" not in driver.current_url
    driver.set_window_size(1280, 900)


def test_a_group_is_watched_stopped_started_and_succeeds(
    page, service, token, rgw, s3, bucket, other_bucket, seen
):
    objects = {f"a/{n}.bin": 3 * MiB + n for n in range(3)}
    objects.update({f"b/{n}.bin": 3 * MiB + 7 * n for n in range(3)})
    objects.update({f"b/small/{n:03}.txt": 1000 + n for n in range(40)})
    source = put_objects(s3, bucket, objects)
    api = api_for(service, seen, PROJECT, token)
    group_id = create(
        api,
        node(rgw, bucket, object_key=["a/", "b/"]),
        node(rgw, other_bucket, second=True, save_prefix="moved/"),
        description="Photos archive to account 2",
        transfer={"bwlimit": "1MiB", "jobs": 2, "threshold": "8MiB"},
    )
    # The list refreshes on its own: the new group shows up and is seen executing.
    wait(page, lambda d: row_status(d, group_id) == "Executing", 30, "never seen executing")
    open_group(page, group_id)
    wait(page, lambda d: group_status(d) == "Executing")
    assert text(page, "#group-title") == "Photos archive to account 2"
    wait(page, lambda d: len(all_css(d, "#tasks tr[data-task]")) == 2, message="the tasks are not listed")

    # Deleting a running group is refused with the API's message.
    click(page, "#action-delete")
    page.switch_to.alert.accept()
    refused = wait(page, lambda d: css(d, "#action-error").text)
    assert "stop it before deleting" in refused

    click(page, "#action-stop")
    wait(page, lambda d: group_status(d) == "Stopped", 30, "never stopped")
    assert api.group(group_id)["status"] in ("stopped", 3)
    click(page, "#action-start")
    click(page, "dialog[open] button[type=submit]")  # the keys it holds
    wait(page, lambda d: group_status(d) == "Succeeded", 90, "never succeeded")
    wait(page, lambda d: "100%" in css(d, "#stat-progress").text)
    assert digests(rgw.client(second=True), other_bucket, "moved/") == source
    statuses = texts(page, "#tasks tr[data-task] .badge")
    assert statuses == ["Succeeded", "Succeeded"]
    wait(page, lambda d: all_css(d, "#chart svg path.line"), 20, "no throughput chart")
    assert "peak" in text(page, "#chart-note")
    assert "46" in text(page, "#stat-objects")  # 46 objects
    screenshot(page, "group", 1280, "#chart svg")
    screenshot(page, "group", 390, "#chart svg")

    click(page, "a.back")
    wait(page, lambda d: row_status(d, group_id) == "Succeeded")
    row = text(page, f'tr[data-group="{group_id}"]')
    assert "100%" in row and "Photos archive" in row and other_bucket in row
    assert rgw.secret_key not in page.page_source and rgw.secret_key_2 not in page.page_source


def test_failed_objects_are_text_and_a_retry_of_them_succeeds(
    page, service, token, rgw, s3, bucket, other_bucket, downloads, seen
):
    put_objects(s3, bucket, {"ok-1.txt": 2000, "ok-2.txt": 3000})
    api = api_for(service, seen, PROJECT, token)
    group_id = create(
        api,
        node(rgw, bucket, object_key=["ok-1.txt", HOSTILE, "ok-2.txt", HOSTILE_2]),
        node(rgw, other_bucket, second=True),
        task_type="LIST",
        description="List with missing keys",
    )
    assert api.wait(group_id)["status"] in ("failed", 5)

    # The list, filtered on failed groups, shows it; its page shows the failed keys as text.
    click(page, "#status-filter option[value=failed]")
    wait(page, lambda d: "status=failed" in d.current_url and row_status(d, group_id) == "Failed")
    assert set(texts(page, "#groups .badge")) == {"Failed"}
    open_group(page, group_id)
    wait(page, lambda d: len(all_css(d, "#failed tr td.key")) == 2, message="no failed objects")
    keys = texts(page, "#failed td.key")
    assert keys == [HOSTILE, HOSTILE_2]
    reasons = texts(page, "#failed td.reason")
    assert all(reason and reason != "—" for reason in reasons), reasons
    assert all_css(page, "#failed img") == [] and all_css(page, "main script") == []
    assert text(page, "#failed-count") == "2 failed"
    assert text(page, "#group-reason")
    no_script_ran(page)
    screenshot(page, "failed-group", 1280, "#failed td.key")
    screenshot(page, "failed-group", 390, "#failed td.key")

    click(page, "#failed-csv")
    csv_path = downloads / f"failed-objects-{group_id}.csv"
    wait(page, lambda d: csv_path.exists() and csv_path.stat().st_size > 0, 20, "no CSV downloaded")
    lines = csv_path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "task_id,key,dest_key,size,reason"
    assert [line.split(",")[1] for line in lines[1:]] == [HOSTILE, HOSTILE_2]

    # The missing objects appear at the source; a retry of the failed ones only, with the keys typed in.
    put_objects(s3, bucket, {HOSTILE: 1234, HOSTILE_2: 4321})
    click(page, "#action-retry")
    wait(page, lambda d: css(d, "dialog[open] input[name=mode][value=failed]")).is_selected()
    fill_credentials(page, rgw)
    screenshot(page, "retry-dialog", 390, "dialog[open]")
    click(page, "dialog[open] button[type=submit]")
    wait(page, lambda d: group_status(d) == "Succeeded", 60, "the retry did not succeed")
    wait(page, lambda d: css(d, "#failed-count").text == "none")
    moved = digests(rgw.client(second=True), other_bucket)
    assert set(moved) == {"ok-1.txt", "ok-2.txt", HOSTILE, HOSTILE_2}
    no_script_ran(page)
    retried = api.group(group_id)
    assert retried.get("retry_count", 1) == 1  # (OMS answers no retry count)


def test_a_wrong_key_is_the_reason_shown_and_a_retry_with_the_right_one_succeeds(
    page, service, token, rgw, s3, bucket, seen
):
    put_objects(s3, bucket, {"w/1.txt": 500, "w/2.txt": 600})
    api = api_for(service, seen, PROJECT, token)
    group_id = create(
        api,
        node(rgw, bucket, object_key=["w/"], sk="wrong-secret-key"),
        node(rgw, bucket, save_prefix="copied/"),
        description="Wrong source key",
    )
    assert api.wait(group_id)["status"] in ("failed", 5)
    open_group(page, group_id)
    reason = wait(page, lambda d: css(d, "#group-reason").text)
    assert "wrong-secret-key" not in reason and len(reason) > len("Why it failed: ")
    click(page, "#action-retry")
    click(page, "dialog[open] input[name=mode][value=all]")
    fill_credentials(page, rgw, second_destination=False)
    click(page, "dialog[open] button[type=submit]")
    wait(page, lambda d: group_status(d) == "Succeeded", 60, "the retry did not succeed")
    assert sorted(digests(s3, bucket, "copied/")) == ["w/1.txt", "w/2.txt"]


def test_another_projects_groups_never_appear(page, service, rgw, bucket, seen):
    other = api_for(service, seen, OTHER, service.token(OTHER))
    hidden = create(
        other,
        node(rgw, bucket, object_key=["nothing-here"]),
        node(rgw, bucket, save_prefix="secret-dest/"),
        task_type="LIST",
        description="Other project group",
    )
    other.wait(hidden)
    page.refresh()
    wait(page, lambda d: all_css(d, "#groups tr[data-group]"))
    time.sleep(3.5)  # one more refresh of the list
    assert all_css(page, f'tr[data-group="{hidden}"]') == []
    assert "Other project group" not in page.page_source and "secret-dest" not in page.page_source
    page.get(f"{service.url}/#/groups/{hidden}")
    refused = wait(page, lambda d: css(d, "#action-error").text)
    assert "no task group" in refused
    assert "Other project group" not in page.page_source


def test_the_list_of_groups_at_work(page, service, token, rgw, s3, bucket, bucket2, seen):
    """Groups in several states at once, as an operator sees them (the screenshots of the list)."""
    put_objects(s3, bucket, {f"logs/{n:02}.gz": 2 * MiB for n in range(4)})
    api = api_for(service, seen, PROJECT, token)
    running = create(
        api,
        node(rgw, bucket, object_key=["logs/"]),
        node(rgw, bucket2, save_prefix="2026/"),
        description="Nightly logs",
        transfer={"bwlimit": "512KiB", "jobs": 1},
    )
    failing = create(
        api,
        node(rgw, bucket, object_key=["logs/00.gz", "logs/missing.gz"]),
        node(rgw, bucket2),
        task_type="LIST",
        description="Hand-picked objects",
    )
    api.wait(failing)
    wait(page, lambda d: row_status(d, running) == "Executing" and row_status(d, failing) == "Failed", 30)
    wait(page, lambda d: "/s" in css(d, f'tr[data-group="{running}"]').text, 20, "no speed shown")
    screenshot(page, "groups", 1280, "#groups tr[data-group]")
    screenshot(page, "groups", 390, "#groups tr[data-group]")
    assert api.put(f"/taskgroups/{running}/stop").status_code == 200
    api.wait(running)


def test_a_group_created_from_the_form_migrates(page, service, rgw, s3, bucket, bucket2):
    source = put_objects(s3, bucket, {"docs/a.txt": 100, "docs/b.txt": 200, "other/c.txt": 300})
    click(page, "#new-group")
    fields = {
        "description": "Made in the browser",
        "src_bucket": bucket,
        "src_endpoint": rgw.endpoint,
        "src_region": "us-east-1",
        "src_ak": rgw.access_key,
        "src_sk": rgw.secret_key,
        "object_key": "docs/",
        "dst_bucket": bucket2,
        "dst_endpoint": rgw.endpoint,
        "dst_region": "us-east-1",
        "dst_ak": rgw.access_key,
        "dst_sk": rgw.secret_key,
        "save_prefix": "web/",
    }
    wait(page, lambda d: css(d, "dialog[open] input[name=src_bucket]"))
    for name, value in fields.items():
        css(page, f"dialog[open] [name={name}]").send_keys(value)
    click(page, "dialog[open] button[type=submit]")
    wait(page, lambda d: css(d, "#group-title").text == "Made in the browser", 30, "no new group page")
    wait(page, lambda d: group_status(d) == "Succeeded", 60, "the new group did not succeed")
    wanted = {key: sha for key, sha in source.items() if key.startswith("docs/")}
    assert digests(s3, bucket2, "web/") == wanted
    assert rgw.secret_key not in page.page_source


def test_log_out_forgets_the_token(page, service):
    click(page, "#logout")
    wait(page, lambda d: css(d, "input[name=token]"))
    assert page.execute_script("return sessionStorage.getItem('ferry.token')") is None
    page.refresh()
    assert wait(page, lambda d: css(d, "input[name=token]"))
    assert all_css(page, "#groups") == []
