"""`kubectl microseg`: kubectl finds the plugin on PATH and it answers for the running
(fake) cluster; the krew manifest and archive; shell completion."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.live.fakeapi import FakeApi

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
INTENTS = REPO / "examples" / "demo" / "intents.yaml"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kubectl_microseg_verify_answers_for_the_running_cluster(
    fake_api: FakeApi, kubeconfig: Path
) -> None:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "KUBECONFIG": str(kubeconfig)}
    listed = subprocess.run(["kubectl", "plugin", "list"], capture_output=True, text=True, env=env)
    assert "kubectl-microseg" in listed.stdout
    out = subprocess.run(
        ["kubectl", "microseg", "verify", "--cluster", "--intents", str(INTENTS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 1, out.stderr  # the demo's known gap, found in the cluster
    assert "VIOLATED shop/deny[0]" in out.stdout
    assert "cluster:fake/NetworkPolicy/" in out.stdout
    usage = subprocess.run(
        ["kubectl", "microseg", "--help"], capture_output=True, text=True, env=env
    )
    assert "Usage: kubectl microseg" in usage.stdout


def test_the_krew_manifest_and_its_archive(tmp_path: Path) -> None:
    text = (REPO / "deploy" / "krew" / "microseg.yaml").read_text()
    # krew-release-bot fills the template; a filled one is a valid krew Plugin.
    filled = re.sub(
        r"\{\{ addURIAndSha .* \}\}",
        "uri: https://example.invalid/kubectl-microseg.tar.gz\n      sha256: " + "0" * 64,
        text,
    ).replace("{{ .TagName }}", "v0.1.0")
    plugin = yaml.safe_load(filled)
    assert plugin["apiVersion"] == "krew.googlecontainertools.github.com/v1alpha2"
    assert plugin["kind"] == "Plugin"
    assert plugin["metadata"]["name"] == "microseg"
    [platform] = plugin["spec"]["platforms"]
    assert platform["bin"] == "kubectl-microseg"
    built = subprocess.run(
        ["sh", str(REPO / "deploy" / "krew" / "build.sh"), str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert re.match(r"[0-9a-f]{64} ", built.stdout)
    with tarfile.open(tmp_path / "kubectl-microseg.tar.gz") as archive:
        names = set(archive.getnames())
    assert {f["from"] for f in platform["files"]} <= names
    launcher = subprocess.run(
        [str(REPO / "deploy" / "krew" / "kubectl-microseg"), "schema", "intent"],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"},
    )
    assert launcher.returncode == 0
    assert '"$schema"' in launcher.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_shell_completion(shell: str) -> None:
    # typer detects the user's shell from the process tree; CI runs under sh, which it
    # does not support, so the shell is named explicitly (typer's own switch for that).
    named = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    script = subprocess.run(
        [str(BIN / "microseg"), "--show-completion", shell],
        capture_output=True,
        text=True,
        env=named,
    )
    assert script.returncode == 0
    assert "_MICROSEG_COMPLETE" in script.stdout
    env = {
        **os.environ,
        "_MICROSEG_COMPLETE": f"complete_{shell}",
        "COMP_WORDS": "microseg verify --clu",
        "COMP_CWORD": "2",
        "_TYPER_COMPLETE_ARGS": "microseg verify --clu",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
    }
    words = subprocess.run([str(BIN / "microseg")], capture_output=True, text=True, env=env)
    assert "--cluster" in words.stdout
