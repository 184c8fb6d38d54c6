"""Every AdminNetworkPolicy/BaselineAdminNetworkPolicy row of the corpus's bad-path-cases.tsv
is a located, fatal diagnostic that names the problem; exit 2, no traceback, stdout empty."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.e2e.test_bad_input_cli import _case_dir, _tsv_rows, assert_fatal, invoke

# case -> (code, a fragment of the message that names the problem)
GUARDRAIL_CASES: dict[str, tuple[str, str]] = {
    "anp_bad_path_test_1": ("MS111", "share priority 50"),
    "anp_bad_path_test_2": ("MS110", "spec.priority"),
    "anp_bad_path_test_3": ("MS111", "named 'same-name'"),
    "anp_bad_path_test_4": ("MS110", "spec.subject: expected a mapping"),
    "anp_bad_path_test_5": ("MS110", "subject must set exactly one"),
    "anp_bad_path_test_6": ("MS110", "spec.egress[0].to"),
    "anp_bad_path_test_7": ("MS110", "peer must set exactly one"),
    "anp_bad_path_test_8": ("MS110", "port must set exactly one"),
    "anp_bad_path_test_9": ("MS110", "spec.egress[1].action"),
    "anp_bad_path_test_10": ("MS110", "spec.egress[0].to: required field is missing"),
    "anp_bad_path_test_12": ("MS110", "spec.egress[0].action: required field is missing"),
    "anp_bad_path_test_14": ("MS110", "spec.ingress[0].from: required field is missing"),
    "anp_bad_path_test_15": ("MS110", "spec.ingress[0].from"),
    "anp_bad_path_test_16": ("MS110", "peer must set exactly one"),
    "anp_bad_path_test_17": ("MS110", "port must set exactly one"),
    "anp_test_with_empty_port_range": ("MS110", "empty range"),
    "anp_bad_path_test_18": ("MS110", "spec.ingress[0].action"),
    "anp_bad_path_test_19": ("MS110", "invalid CIDR"),
    "anp_bad_path_test_20": ("MS110", "spec.priority"),
    "banp_bad_path_test_1": ("MS111", "BaselineAdminNetworkPolicy"),
    "banp_bad_path_test_2": ("MS110", "must be named 'default'"),
    "banp_bad_path_test_3": ("MS110", "spec.subject"),
    "banp_bad_path_test_4": ("MS110", "subject must set exactly one"),
    "banp_bad_path_test_5": ("MS110", "spec.egress[0].to"),
    "banp_bad_path_test_6": ("MS110", "spec.egress[0].to: required field is missing"),
    "banp_bad_path_test_7": ("MS110", "peer must set exactly one"),
    "banp_bad_path_test_8": ("MS110", "spec.egress[0].action"),
    "banp_bad_path_test_9": ("MS110", "port must set exactly one"),
    "banp_bad_path_test_10": ("MS110", "spec.ingress[0].from: required field is missing"),
    "banp_bad_path_test_11": ("MS110", "spec.ingress[0].from"),
    "banp_bad_path_test_12": ("MS110", "peer must set exactly one"),
    "banp_bad_path_test_13": ("MS110", "port must set exactly one"),
    "banp_bad_path_test_14": ("MS110", "spec.ingress[0].action"),
    "banp_bad_path_test_15": ("MS110", "invalid CIDR"),
}


def test_every_guardrail_row_is_covered(corpus: Path) -> None:
    rows = _tsv_rows(corpus)
    assert {c for c in rows if c.startswith(("anp_", "banp_"))} == set(GUARDRAIL_CASES)


@pytest.mark.parametrize("case", list(GUARDRAIL_CASES))
def test_guardrail_bad_path_is_fatal(corpus: Path, case: str) -> None:
    code, fragment = GUARDRAIL_CASES[case]
    folder = _case_dir(corpus, case)
    lines = assert_fatal(invoke(["connectivity", str(folder)]), code, fragment)
    pattern = re.compile(rf"^{re.escape(str(folder))}/[^:]+:\d+: error\[{code}\]: ")
    assert all(pattern.match(line) for line in lines), lines
