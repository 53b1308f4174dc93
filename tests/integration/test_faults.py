"""Faults injected by a real proxy on loopback between ferry and the RGW: resets mid-body, 503 SlowDown,
500, stalls. Transfers finish correctly, or fail with one clear line and resume cleanly later."""

import pytest
from tests.conftest import MiB, make_file, sha256_file, sha256_object, uploads_left, write_remotes
from tests.support.faultproxy import FaultProxy, Rule

pytestmark = pytest.mark.integration

SIZE = 5 * 5 * MiB - 1000  # five parts, the last one short
FLAGS = ["--threshold", "6MiB", "--part-size", "5MiB", "-p", "2"]


@pytest.fixture
def proxy(rgw):
    with FaultProxy(rgw.endpoint) as running:
        yield running


@pytest.fixture
def flaky(tmp_path, rgw, proxy):
    """A config whose remote ``flaky`` goes through the proxy, with a short read timeout for stalls."""
    return write_remotes(
        tmp_path / "flaky.toml",
        rgw,
        extra={"flaky": proxy.url},
        defaults="read_timeout = 2\nconnect_timeout = 2",
    )


def fired_names(proxy):
    return sorted({f.name for f in proxy.fired})


def test_upload_survives_every_kind_of_fault(tmp_path, ferry, flaky, proxy, s3, bucket):
    source = tmp_path / "up.bin"
    digest = make_file(source, SIZE)
    proxy.add_rule(
        Rule(
            "status",
            method="PUT",
            path_contains="partNumber=2",
            times=2,
            status=503,
            code="SlowDown",
            name="503",
        )
    )
    proxy.add_rule(
        Rule(
            "status",
            method="PUT",
            path_contains="partNumber=3",
            times=1,
            status=500,
            code="InternalError",
            name="500",
        )
    )
    proxy.add_rule(Rule("reset_request", method="PUT", path_contains="partNumber=4", times=1, name="reset"))
    proxy.add_rule(
        Rule("stall", method="PUT", path_contains="partNumber=1", times=1, seconds=6, name="stall")
    )

    run = ferry("cp", str(source), f"flaky://{bucket}/up.bin", *FLAGS, config_path=flaky)
    assert run.returncode == 0, run.stderr
    assert fired_names(proxy) == ["500", "503", "reset", "stall"]
    assert "retrying" in run.stderr
    assert sha256_object(s3, bucket, "up.bin") == digest
    assert uploads_left(s3, bucket) == []


def test_download_survives_resets_mid_body_and_errors(tmp_path, ferry, flaky, proxy, s3, bucket):
    source = tmp_path / "src.bin"
    digest = make_file(source, SIZE)
    s3.upload_file(str(source), bucket, "down.bin")
    proxy.add_rule(
        Rule("reset_response", method="GET", path_contains="down.bin", skip=1, times=2, name="reset")
    )
    proxy.add_rule(
        Rule(
            "status", method="GET", path_contains="down.bin", times=1, status=503, code="SlowDown", name="503"
        )
    )
    proxy.add_rule(Rule("stall", method="GET", path_contains="down.bin", times=1, seconds=6, name="stall"))

    target = tmp_path / "down.bin"
    run = ferry("cp", f"flaky://{bucket}/down.bin", str(target), *FLAGS, config_path=flaky)
    assert run.returncode == 0, run.stderr
    assert fired_names(proxy) == ["503", "reset", "stall"]
    assert sha256_file(target) == digest


def test_persistent_failure_gives_up_clearly_then_resumes(tmp_path, ferry, flaky, proxy, s3, bucket):
    source = tmp_path / "up.bin"
    digest = make_file(source, SIZE)
    proxy.add_rule(Rule("status", method="PUT", path_contains="partNumber=3", status=503, code="SlowDown"))

    failed = ferry("cp", str(source), f"flaky://{bucket}/up.bin", *FLAGS, "--retries", "2", config_path=flaky)
    assert failed.returncode == 6
    errors = [line for line in failed.stderr.splitlines() if line.startswith("ferry: error:")]
    assert len(errors) == 1 and "SlowDown (503)" in errors[0] and "gave up after 3 attempts" in errors[0]
    assert "Traceback" not in failed.stderr
    assert len(uploads_left(s3, bucket)) == 1  # kept, to be resumed

    proxy.clear_rules()
    proxy.reset_stats()
    resumed = ferry("cp", str(source), f"flaky://{bucket}/up.bin", *FLAGS, config_path=flaky)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.transferred() < SIZE
    assert proxy.bytes_up < SIZE  # what crossed the wire agrees with the summary
    assert sha256_object(s3, bucket, "up.bin") == digest
    assert uploads_left(s3, bucket) == []


def test_download_cut_off_then_resumed(tmp_path, ferry, flaky, proxy, s3, bucket):
    source = tmp_path / "src.bin"
    digest = make_file(source, SIZE)
    s3.upload_file(str(source), bucket, "obj.bin")
    # Each request reads a run of parts (two here): the first run arrives, every later one is cut short.
    proxy.add_rule(Rule("reset_response", method="GET", path_contains="obj.bin", skip=1))
    target = tmp_path / "obj.bin"

    failed = ferry(
        "cp", f"flaky://{bucket}/obj.bin", str(target), *FLAGS, "--retries", "1", config_path=flaky
    )
    assert failed.returncode == 6
    assert not target.exists()

    proxy.clear_rules()
    proxy.reset_stats()
    resumed = ferry("cp", f"flaky://{bucket}/obj.bin", str(target), *FLAGS, config_path=flaky)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.transferred() < SIZE
    assert proxy.bytes_down < SIZE + MiB
    assert sha256_file(target) == digest


def test_download_reads_many_parts_per_request_and_a_reset_resends_only_what_had_not_landed(
    tmp_path, ferry, flaky, proxy, s3, bucket
):
    part = 2 * MiB
    size = 10 * part
    source = tmp_path / "src.bin"
    digest = make_file(source, size)
    s3.upload_file(str(source), bucket, "runs.bin")
    proxy.add_rule(Rule("reset_response", method="GET", path_contains="runs.bin", times=1, name="reset"))
    target = tmp_path / "runs.bin"

    run = ferry(
        "cp",
        f"flaky://{bucket}/runs.bin",
        str(target),
        "--threshold",
        "3MiB",
        "--part-size",
        "2MiB",
        "-p",
        "1",
        config_path=flaky,
    )
    assert run.returncode == 0, run.stderr
    assert fired_names(proxy) == ["reset"]
    assert sha256_file(target) == digest
    ranges = [r.headers.get("range") for r in proxy.requests if r.method == "GET"]
    assert ranges[0] == f"bytes=0-{size - 1}"  # ten parts, one request
    assert len(ranges) == 2, ranges
    start = int(ranges[1].removeprefix("bytes=").split("-")[0])
    assert 0 < start < size and start % part == 0, ranges  # from the first part that had not landed
    assert ranges[1] == f"bytes={start}-{size - 1}"
    first = next(r for r in proxy.requests if r.method == "GET").resp_bytes  # about half, then the reset
    assert proxy.bytes_down == first + (size - start)  # the parts that landed were not fetched again
