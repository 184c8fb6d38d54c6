"""A VerificationReport as JUnit XML, the test-report shape CI systems read.

`<testsuites>` holds one `<testsuite>` per intent document (its metadata.name), one
`<testcase>` per intent (each allow, deny, domain and expectation), and one `<failure>` per
violated intent whose body is the text explanation. The attributes used (tests, failures,
errors, skipped, time; classname, name, file, line) are the common subset that Jenkins,
GitLab and GitHub test reporters read (the Ant JUnit schema and its extensions).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from microseg.analyses.verify import Finding, VerificationReport
from microseg.render.escape import visible
from microseg.render.verify import violation_lines

__all__ = ["report_junit"]


def _suite_name(f: Finding) -> str:
    return f.id.split("/", 1)[0]


def report_junit(report: VerificationReport) -> str:
    root = ET.Element(
        "testsuites",
        name="microseg verify",
        tests=str(len(report.findings)),
        failures=str(len(report.violations)),
        errors="0",
        time="0",
    )
    suites: dict[str, list[Finding]] = {}
    for f in report.findings:
        suites.setdefault(_suite_name(f), []).append(f)
    for name, findings in suites.items():
        failed = sum(not f.holds for f in findings)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=visible(name),
            tests=str(len(findings)),
            failures=str(failed),
            errors="0",
            skipped="0",
            time="0",
        )
        for f in findings:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=visible(f"microseg.verify.{name}.{f.kind}"),
                name=visible(f"{f.id}: {f.description}"),
                file=visible(f.origin.file),
                time="0",
            )
            if f.origin.line is not None:
                case.set("line", str(f.origin.line))
            if not f.holds:
                failure = ET.SubElement(case, "failure", message=visible(f.message), type=f.kind)
                # XML 1.0 has no place for most control characters, even escaped.
                failure.text = "\n".join(visible(line) for line in violation_lines(f)) + "\n"
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
