"""Where clouds live: built-in patterns by cloud type and region, and the operator's file over them."""

from __future__ import annotations

import pytest

from ferry.errors import UsageError
from ferry.service.endpoints import EndpointTable, load


def test_builtin_patterns_need_a_region_where_they_name_one():
    table = EndpointTable()
    assert table.resolve("HuaweiCloud", "cn-north-4") == "https://obs.cn-north-4.myhuaweicloud.com"
    assert table.resolve("HEC", "cn-north-4") == "https://obs.cn-north-4.myhuaweicloud.com"
    assert table.resolve("Aliyun", "cn-hangzhou") == "https://oss-cn-hangzhou.aliyuncs.com"
    assert table.resolve("Tencent", "ap-guangzhou") == "https://cos.ap-guangzhou.myqcloud.com"
    assert table.resolve("Google", None) == "https://storage.googleapis.com"
    assert table.resolve("Aliyun", None) is None
    assert table.resolve("Aliyun", "a/../b") is None  # never a URL built from a path
    assert table.resolve("Ceph", "x") is None


def test_the_operators_file_overrides_by_region_then_star(tmp_path):
    path = tmp_path / "endpoints.toml"
    path.write_text(
        '[Ceph]\n"*" = "http://10.0.0.5:7480/"\n\n'
        '[HuaweiCloud]\n"cn-north-4" = "https://obs.internal"\n\n[hec]\n"private-1" = "http://10.0.0.6"\n'
    )
    table = load(path)
    assert table.resolve("Ceph", None) == "http://10.0.0.5:7480"
    assert table.resolve("ceph", "any") == "http://10.0.0.5:7480"
    assert table.resolve("HEC", "private-1") == "http://10.0.0.6"
    assert table.resolve("HuaweiCloud", "cn-south-1") == "https://obs.cn-south-1.myhuaweicloud.com"
    assert table.override("AWS", "us-east-1") is None
    assert table.knows("Ceph") and table.knows("Qiniu") and not table.knows("MinIO")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[Ceph", "not valid TOML"),
        ('Ceph = "http://x"', "must be a table"),
        ('[Ceph]\n"*" = "ftp://x"', "Ceph.* must be an http:// or https:// URL"),
        ('[Ceph]\n"*" = 3', "must be an http:// or https:// URL"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_entry(tmp_path, text, message):
    path = tmp_path / "endpoints.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("*", r"\*")):
        load(path)
    with pytest.raises(UsageError, match="cannot read"):
        load(tmp_path / "missing.toml")
