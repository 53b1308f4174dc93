"""Bad input gets one clear line, a non-zero exit code, and leaves the destination as it was."""

import subprocess

import pytest
from tests.conftest import MiB, make_file, sha256_object, write_remotes

pytestmark = pytest.mark.integration


def assert_clean_failure(run, code, *phrases):
    assert run.returncode == code, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("ferry: error:")]
    assert len(errors) == 1, run.stderr
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


@pytest.fixture
def existing(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"precious")
    yield "keep.txt"
    assert s3.get_object(Bucket=bucket, Key="keep.txt")["Body"].read() == b"precious"


@pytest.mark.parametrize(
    ("flags", "phrase"),
    [
        (["--part-size", "10KB"], "part size 10.00 KiB is out of range"),
        (["--part-size", "6GiB"], "out of range"),
        (["--part-size", "lots"], "invalid part size 'lots'"),
        (["--threshold", "abc"], "invalid threshold 'abc'"),
        (["-p", "0"], "parallel count 0"),
        (["-p", "many"], "Invalid value for '-p' / '--parallel'"),
        (["--meta", "nocolon"], "invalid --meta entry"),
        (["--acl", "world"], "invalid --acl 'world'"),
        (["--storage-class", "lukewarm"], "invalid --storage-class"),
        (["--bwlimit", "fast"], "invalid bandwidth limit"),
        (["--copy-threshold", "6GiB"], "one CopyObject request copies at most 5 GB"),
        (["--no-such-flag"], "No such option"),
    ],
)
def test_bad_flags(tmp_path, ferry, bucket, existing, flags, phrase):
    source = tmp_path / "f.bin"
    source.write_bytes(b"new")
    run = ferry("cp", str(source), f"rgw://{bucket}/{existing}", *flags)
    assert_clean_failure(run, 3, phrase)


def test_missing_local_file(tmp_path, ferry, bucket):
    run = ferry("cp", str(tmp_path / "nope.bin"), f"rgw://{bucket}/x")
    assert_clean_failure(run, 1, "no such file")


def test_missing_object_leaves_no_local_file(tmp_path, ferry, bucket):
    run = ferry("cp", f"rgw://{bucket}/nope.bin", str(tmp_path / "out.bin"))
    assert_clean_failure(run, 1, "no such object")
    assert not (tmp_path / "out.bin").exists()
    assert not list(tmp_path.glob("*.ferry-tmp"))


def test_missing_bucket(tmp_path, ferry):
    source = tmp_path / "f.bin"
    source.write_bytes(b"x")
    run = ferry("cp", str(source), "rgw://no-such-bucket-here/x")
    assert_clean_failure(run, 4, "bucket 'no-such-bucket-here' does not exist")


def test_access_denied_to_another_accounts_bucket(tmp_path, ferry, bucket, existing):
    source = tmp_path / "f.bin"
    source.write_bytes(b"intruder")
    run = ferry("cp", str(source), f"rgw2://{bucket}/{existing}")
    assert_clean_failure(run, 4, "access denied")


def test_wrong_secret_is_named_and_not_printed(tmp_path, ferry, rgw, bucket, existing):
    config = tmp_path / "bad.toml"
    config.write_text(
        f'[remotes.bad]\nendpoint = "{rgw.endpoint}"\naccess_key = "{rgw.access_key}"\n'
        'secret_key = "wrong-secret-value-123"\n'
    )
    source = tmp_path / "f.bin"
    source.write_bytes(b"x")
    run = ferry("cp", str(source), f"bad://{bucket}/{existing}", config_path=config)
    assert_clean_failure(run, 5, "credentials were refused", "SignatureDoesNotMatch")
    assert "wrong-secret-value-123" not in run.stderr + run.stdout


def test_unknown_remote_and_bad_urls(tmp_path, ferry):
    source = tmp_path / "f.bin"
    source.write_bytes(b"x")
    assert_clean_failure(ferry("cp", str(source), "nosuch://bucket/x"), 3, "unknown remote 'nosuch'")
    assert_clean_failure(ferry("cp", str(source), "rgw://ab/x"), 3, "3 to 63 characters")
    assert_clean_failure(ferry("cp", "rgw://bucket/", str(tmp_path)), 3, "not an object")
    assert_clean_failure(ferry("cp", str(tmp_path), "rgw://bucket/x"), 3, "is a directory")
    assert_clean_failure(ferry("cp", str(source), str(tmp_path / "y")), 7, "both locations are local")


def test_malformed_config_file(tmp_path, ferry):
    config = tmp_path / "broken.toml"
    config.write_text("[remotes.x\nendpoint=")
    source = tmp_path / "f.bin"
    source.write_bytes(b"x")
    assert_clean_failure(ferry("cp", str(source), "x://bucket/k", config_path=config), 3, "not valid TOML")
    config.write_text('[remotes.x]\nendpont = "http://127.0.0.1:1"\n')
    assert_clean_failure(
        ferry("cp", str(source), "x://bucket/k", config_path=config), 3, "unknown key 'endpont'"
    )


def test_unreachable_endpoint_fails_after_retries_with_one_line(tmp_path, ferry, rgw):
    config = write_remotes(tmp_path / "dead.toml", rgw, extra={"dead": "http://127.0.0.1:9"})
    source = tmp_path / "f.bin"
    source.write_bytes(b"x")
    run = ferry("cp", str(source), "dead://bucket/x", "--retries", "1", config_path=config)
    assert_clean_failure(run, 6, "network error", "gave up after 2 attempts")


def test_md5_mismatch_on_download_leaves_no_file(tmp_path, ferry, s3, bucket):
    for key, size in (("small.bin", 1000), ("large.bin", 12 * MiB)):
        source = tmp_path / key
        make_file(source, size)
        s3.upload_file(
            str(source), bucket, key, ExtraArgs={"Metadata": {"md5chksum": "AAAAAAAAAAAAAAAAAAAAAA=="}}
        )
        target = tmp_path / "out" / key
        run = ferry("cp", f"rgw://{bucket}/{key}", str(target), "--verify-md5", "--threshold", "6MiB")
        assert_clean_failure(run, 6, "MD5 mismatch")
        assert not target.exists()
        assert not list((tmp_path / "out").glob("*.ferry-tmp"))


def test_full_disk_is_one_line_and_leaves_nothing(tmp_path, ferry, s3, bucket):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)]).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        source = tmp_path / "big.bin"
        make_file(source, 12 * MiB)
        s3.upload_file(str(source), bucket, "big.bin")
        s3.put_object(Bucket=bucket, Key="mid.bin", Body=b"y" * (3 * MiB))
        run = ferry("cp", f"rgw://{bucket}/big.bin", str(mount / "big.bin"), "--threshold", "6MiB")
        assert_clean_failure(run, 6, "no space left on device")
        run = ferry("cp", f"rgw://{bucket}/mid.bin", str(mount / "mid.bin"))
        assert_clean_failure(run, 6, "no space left on device")
        assert list(mount.iterdir()) == []
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_existing_destination_is_untouched_by_a_failed_upload(tmp_path, ferry, s3, bucket, existing, rgw):
    config = write_remotes(tmp_path / "dead.toml", rgw, extra={"dead": "http://127.0.0.1:9"})
    source = tmp_path / "f.bin"
    make_file(source, 1000)
    ferry("cp", str(source), f"dead://{bucket}/{existing}", "--retries", "0", config_path=config)
    assert sha256_object(s3, bucket, existing)  # the fixture checks the bytes are unchanged


@pytest.mark.parametrize("quiet", [False, True])
def test_objects_failing_at_once_each_get_a_whole_line(tmp_path, ferry, quiet):
    """Sixteen workers meet the same missing bucket at the same moment: each failure is its own line."""
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(48):
        (tree / f"f{i:02d}.bin").write_bytes(b"x")
    run = ferry("cp", "-r", str(tree), "rgw://no-such-bucket-here/t", "-j", "16", *(["-q"] if quiet else []))
    assert run.returncode == 4 and "Traceback" not in run.stderr
    output = (run.stdout + run.stderr).splitlines()
    failed = [line for line in output if "ferry: failed:" in line]
    assert failed, run.stderr
    for line in failed:
        assert line.startswith("ferry: failed: ") and line.count("ferry:") == 1, line
        assert line.endswith("bucket 'no-such-bucket-here' does not exist at " + line.rsplit(" at ", 1)[-1])
