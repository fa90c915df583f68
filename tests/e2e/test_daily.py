"""Daily use on the embedded AWS, through the real CLI: outputs (and its curl), logs, list."""

from __future__ import annotations

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.e2e


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_curl_from_outputs_posts_an_order(cli, deployed):
    outputs = cli.json("outputs", "--show-key")
    assert outputs["invoke_url"] == deployed["invoke_url"] == cli.json("status")["invoke_url"]
    result = subprocess.run(
        ["bash", "-c", outputs["curl"] + " -o /dev/null -w '%{http_code}'"], capture_output=True, text=True, timeout=60
    )
    assert result.stdout == "202", result
    hidden = cli.run("outputs").stdout
    assert outputs["api_key"]["value"] not in hidden and outputs["urls"]["post_order"] in hidden
