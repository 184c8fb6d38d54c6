"""The frameworks as data: every file is schema-checked (ids, titles, a status rule per
control, known finding codes and inputs), the CIS numbering follows each version, and each
status is decided as documented: never a silent pass."""

from __future__ import annotations

import pytest

from microseg.analyses.audit import (
    CIS_VERSIONS,
    CODES,
    FRAMEWORK_IDS,
    Check,
    Evidence,
    Finding,
    Status,
    framework_ids,
    load_framework,
)
from microseg.analyses.audit.frameworks import Control, Framework, assess


def test_every_framework_file_loads_and_is_complete() -> None:
    ids = framework_ids()
    assert {f"cis-{v}" for v in CIS_VERSIONS} <= set(ids)
    assert {i for i in FRAMEWORK_IDS if i != "cis"} <= set(ids)
    referenced: set[str] = set()
    for fid in ids:
        fw = load_framework(fid)  # raises on an unknown code, a control without a rule
        assert fw.controls, fid
        for c in fw.controls:
            assert c.id
            assert c.title
            assert c.manual or c.findings, (fid, c.id)
            assert not c.manual or c.note, (fid, c.id)
            assert all(k.startswith("C-0") and len(k) == 6 for k in c.kubescape), (fid, c.id)
            referenced |= set(c.findings)
    # every finding code bears on some control of some framework
    assert set(CODES) <= referenced, set(CODES) - referenced


def test_cis_numbering_follows_the_version() -> None:
    v10 = {c.id: c.title for c in load_framework("cis-1.10").controls}
    v11 = {c.id: c.title for c in load_framework("cis-1.11").controls}
    v12 = {c.id: c.title for c in load_framework("cis-1.12").controls}
    assert v10["5.7.4"] == "The default namespace should not be used"
    assert "5.7.4" not in v11
    assert v11["5.6.4"] == v10["5.7.4"]
    assert v10["5.2.9"] == "Minimize the admission of containers with added capabilities"
    assert v12["5.2.9"] == "Minimize the admission of containers with capabilities assigned"
    assert v12["5.2.12"] == "Minimize the admission of containers which use HostPorts"
    assert "5.2.13" not in v12
    assert v10["5.1.1"] == "Ensure that the cluster-admin role is only used where required"
    kube = {c.id: c.kubescape for c in load_framework("cis-1.10").controls}
    assert kube["5.1.1"] == ("C-0185",)
    assert kube["5.3.2"][0] == "C-0206"


def _finding(code: str) -> Finding:
    return Finding(code, "s", "a", "m", (Evidence("e"),))


FW = Framework(
    "t",
    "Test",
    "1",
    "",
    "",
    (
        Control("M", "manual", True, note="outside the manifests"),
        Control("N", "needs rbac", False, ("AUD-RBAC-001",), ("rbac",)),
        Control("F", "fails", False, ("AUD-NET-001", "AUD-NET-002")),
        Control("P", "passes", False, ("AUD-NET-002", "AUD-NET-009")),
        Control("E", "nothing checked", False, ("AUD-POD-013",)),
    ),
)


def test_status_rules() -> None:
    checks = (Check("AUD-NET-001", "s", "a"), Check("AUD-NET-002", "s", "a"))
    result = assess(FW, (_finding("AUD-NET-001"),), checks, frozenset({"workloads"}))
    status = {c.control.id: c for c in result.controls}
    assert status["M"].status is Status.NOT_ASSESSABLE
    assert "outside" in status["M"].reason
    assert status["N"].status is Status.NOT_ASSESSABLE
    assert "RBAC" in status["N"].reason
    assert status["F"].status is Status.FAIL
    assert status["F"].findings[0].code == "AUD-NET-001"
    assert status["P"].status is Status.PASS
    assert "not assessed: AUD-NET-009" in status["P"].reason
    assert status["E"].status is Status.NOT_ASSESSABLE
    with_rbac = assess(FW, (), checks, frozenset({"workloads", "rbac"}))
    # RBAC given but nothing checked for that code: still not a pass
    assert {c.control.id: c.status for c in with_rbac.controls}["N"] is Status.NOT_ASSESSABLE


@pytest.mark.parametrize("fid", ["pci-dss-4", "soc2", "iso-27001-2022", "nist-800-53"])
def test_framework_ids_quoted_in_the_issue_exist(fid: str) -> None:
    ids = {c.id for c in load_framework(fid).controls}
    wanted = {
        "pci-dss-4": {
            "1.2.1",
            "1.3.1",
            "1.3.2",
            "1.4.1",
            "2.2.1",
            "7.2.1",
            "7.2.2",
            "8.6.1",
            "10.2.1",
            "11.4.5",
            "11.4.6",
            "A1.1.2",
        },
        "soc2": {"CC6.1", "CC6.3", "CC6.6", "CC6.7", "CC6.8", "CC7.1", "CC7.2", "CC8.1"},
        "iso-27001-2022": {
            "5.15",
            "5.18",
            "8.2",
            "8.3",
            "8.9",
            "8.15",
            "8.16",
            "8.20",
            "8.21",
            "8.22",
            "8.23",
            "8.24",
            "8.32",
        },
        "nist-800-53": {"AC-3", "AC-4", "AC-6", "SC-7", "SC-8", "SI-4", "AU-2", "CM-7"},
    }[fid]
    assert wanted <= ids
