"""network-config-analyzer (NCA), the tool the nca-* scenarios compare microseg with.

NCA goes into a venv of its own, bench/out/nca-venv (gitignored), made with `python3 -m venv`
and filled by pip from PyPI: never into the project's venv or its dependencies, since NCA
pins its own versions of PyYAML, networkx and others. The venv is kept while its stamp names
the wanted version, so only the first comparison pays for the install (~15 s).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["DIAGNOSIS", "ICMP_ZERO", "NCA_VERSION", "command", "ensure", "env", "explain"]

NCA_VERSION = "2.1.0"
PACKAGE = "network-config-analyzer"
STAMP = ".nca-installed"
INSTALL_TIMEOUT_S = 900.0


def _tail(text: str, lines: int = 8) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])


def _run(cmd: list[str], timeout_s: float) -> str | None:
    """None if `cmd` succeeded, else why not."""
    try:
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout_s, check=False, stdin=None
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{' '.join(cmd[:4])} ...: {e}"
    if done.returncode != 0:
        return (
            f"{' '.join(cmd[:4])} ... exited {done.returncode}: {_tail(done.stderr + done.stdout)}"
        )
    return None


def ensure(venv: Path) -> tuple[Path | None, str]:
    """NCA's executable in `venv`, installing it first if needed; (None, reason) when it
    cannot be had. Never raises: the comparison is then recorded as skipped."""
    try:
        return _ensure(venv)
    except OSError as e:
        return None, f"could not install {PACKAGE}=={NCA_VERSION}: {e}"


def _ensure(venv: Path) -> tuple[Path | None, str]:
    nca = venv / "bin" / "nca"
    stamp = venv / STAMP
    try:
        if nca.exists() and stamp.read_text().strip() == NCA_VERSION:
            return nca, f"reused {venv}"
    except OSError:
        pass
    if venv.exists():
        shutil.rmtree(venv)  # half-made or another version: start clean
    python3 = shutil.which("python3") or sys.executable
    why = _run([python3, "-m", "venv", str(venv)], 300.0)
    if why is None:
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        why = _run(
            [*pip, "--disable-pip-version-check", f"{PACKAGE}=={NCA_VERSION}"], INSTALL_TIMEOUT_S
        )
    if why is None and not nca.exists():
        why = f"pip installed {PACKAGE}=={NCA_VERSION} but {nca} is missing"
    if why is not None:
        return None, f"could not install {PACKAGE}=={NCA_VERSION}: {why}"
    stamp.write_text(NCA_VERSION + "\n", encoding="utf-8")
    return nca, f"installed {PACKAGE}=={NCA_VERSION} into {venv}"


# Found by hand on the nca-200 and nca-500 clusters (seed 1), and why no difference counts
# against microseg: see explain().
DIAGNOSIS = (
    "NCA 2.1.0 evaluates a matchExpressions requirement with operator Exists or "
    "DoesNotExist in a rule peer's podSelector against the policy's own namespace only "
    "(K8sPolicyYamlParser.parse_label_selector_requirement passes self.namespace to "
    "PeerContainer.get_peers_with_key), even when the peer also has a namespaceSelector. "
    "Per the NetworkPolicy API, namespaceSelector plus podSelector selects the pods matching "
    "podSelector in every namespace the namespaceSelector selects, so microseg is right. "
    "The generator's `expr` policies allow TCP port `metrics` from "
    "{namespaceSelector: env In [prod, staging], podSelector: monitoring Exists}: NCA drops "
    "every such source outside the policy's namespace. Rewriting `monitoring Exists` as the "
    "equivalent `monitoring In [enabled]` (the only value the generator uses) makes NCA's "
    "output agree with microseg's exactly, and leaves microseg's unchanged (so too on "
    "nca-calico-200, where the Calico policies' connections, every protocol, agree exactly)."
)
# Found by hand on a generated Calico cluster; why bench/generate.py keeps ICMP code 0 out
# of the subset it writes for NCA (make_calico with nca_subset).
ICMP_ZERO = (
    "NCA 2.1.0 drops an ICMP type or code 0 from a Calico rule's icmp and notICMP "
    "(CalicoPolicyYamlParser._parse_icmp tests `if icmp_type:` and `if not_icmp_code:`, "
    "false for 0): `notICMP: {type: 8, code: 0}` acts as `notICMP: {type: 8}`, so a Deny "
    "rule with it leaves every code of type 8 undecided where Calico (and microseg) leave "
    "only code 0, and `icmp: {type: 0}` (echo reply) matches every ICMP type."
)


def explain(agreement: dict[str, Any]) -> str:
    """DIAGNOSIS if the differences have its shape (workload pairs across namespaces only,
    microseg allowing more, external connections equal), else a note that they do not."""
    pairs = agreement.get("pair_differences", {})
    total = pairs.get("total", 0)
    shaped = (
        total > 0
        and pairs.get("across_namespaces") == total
        and pairs.get("microseg_allows_more") == total
        and agreement.get("external", {}).get("workload_directions_differing") == 0
        and agreement.get("differences_total") == total
    )
    if shaped:
        return "consistent with a known NCA 2.1.0 bug: " + DIAGNOSIS
    return "not the shape of the known NCA 2.1.0 bug (see DIAGNOSIS in bench/nca.py): look by hand"


def command(nca: Path, cluster: Path) -> list[str]:
    """NCA's connectivity map of every resource under `cluster`, one line per peer pair
    (txt_no_fw_rules: no firewall-rule grouping), workloads named `ns/name[Kind]`."""
    return [
        str(nca),
        "--connectivity",
        "--resource_list",
        str(cluster),
        "--output_format",
        "txt_no_fw_rules",
        "--output_endpoints",
        "deployments",
    ]


def env() -> dict[str, str]:
    """NCA runs on the .pyc files pip compiled into its venv: no bytecode prefix (that is
    for microseg's editable install), and free to write any that are missing."""
    drop = ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "VIRTUAL_ENV")
    return {k: v for k, v in os.environ.items() if k not in drop}
