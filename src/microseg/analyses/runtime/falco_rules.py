"""What each Falco rule means for microseg: a category, a severity and an ATT&CK technique.

Rules are matched by name first, as the Falco project's rule files name them
(https://github.com/falcosecurity/rules, rules/falco_rules.yaml, falco-incubating_rules.yaml
and falco-sandbox_rules.yaml), then by tag for the rules of other files: `shell`,
`mitre_privilege_escalation`, `mitre_credential_access`, `mitre_discovery`, ... A rule known
by neither is kept as a generic alert, its severity from its priority and its technique
from its own tags (an ID such as `T1059`), as the rule's authors wrote it.

Techniques are chosen by what the rule detects. Where the Falco rule's own tag names a
technique that describes something else, the table says so: "Contact K8S API Server From
Container" is tagged T1565 (Data Manipulation) but detects a container querying the API,
which is T1613 (Container and Resource Discovery); "Read sensitive file untrusted" is tagged
T1555 (Credentials from Password Stores) but reads /etc/shadow and its kin, which is
T1003.008; "Packet socket created in container" is tagged T1557.002 (ARP Cache
Poisoning), of which a packet socket is only one means, while it is the means of T1040
(Network Sniffing).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from microseg.model.events import Severity

__all__ = ["SCANNERS", "FalcoMeaning", "meaning", "priority_severity", "tag_technique"]


@dataclass(frozen=True, slots=True)
class FalcoMeaning:
    category: str
    severity: Severity
    technique: str
    known: bool = True


_S = Severity
_RULES: dict[str, FalcoMeaning] = {
    # An interactive shell: the foothold.
    "Terminal shell in container": FalcoMeaning("shell", _S.HIGH, "T1059.004"),
    "Run shell untrusted": FalcoMeaning("shell", _S.MEDIUM, "T1059.004"),
    "Netcat Remote Code Execution in Container": FalcoMeaning("shell", _S.CRITICAL, "T1059.004"),
    "Redirect STDOUT/STDIN to Network Connection in Container": FalcoMeaning(
        "shell", _S.CRITICAL, "T1059.004"
    ),
    "Reverse Shell from Web Server": FalcoMeaning("shell", _S.CRITICAL, "T1059.004"),
    # Privilege escalation and escapes.
    "Launch Privileged Container": FalcoMeaning("privilege-escalation", _S.HIGH, "T1610"),
    "Launch Excessively Capable Container": FalcoMeaning(
        "privilege-escalation", _S.MEDIUM, "T1610"
    ),
    "Non sudo setuid": FalcoMeaning("privilege-escalation", _S.HIGH, "T1548.001"),
    "Set Setuid or Setgid bit": FalcoMeaning("privilege-escalation", _S.MEDIUM, "T1548.001"),
    "Sudo Potential Privilege Escalation": FalcoMeaning(
        "privilege-escalation", _S.CRITICAL, "T1548.003"
    ),
    "Detect release_agent File Container Escapes": FalcoMeaning(
        "privilege-escalation", _S.CRITICAL, "T1611"
    ),
    "Debugfs Launched in Privileged Container": FalcoMeaning(
        "privilege-escalation", _S.HIGH, "T1611"
    ),
    "Mount Launched in Privileged Container": FalcoMeaning(
        "privilege-escalation", _S.HIGH, "T1611"
    ),
    "Change namespace privileges via unshare": FalcoMeaning(
        "privilege-escalation", _S.HIGH, "T1611"
    ),
    # Network tools: scanners are discovery; the rest may be a shell or a transfer.
    "Launch Suspicious Network Tool in Container": FalcoMeaning("network-tool", _S.HIGH, ""),
    "Launch Ingress Remote File Copy Tools in Container": FalcoMeaning(
        "network-tool", _S.MEDIUM, "T1105"
    ),
    "Packet socket created in container": FalcoMeaning("network-tool", _S.HIGH, "T1040"),
    # The API server from a container.
    "Contact K8S API Server From Container": FalcoMeaning("api-server", _S.MEDIUM, "T1613"),
    # Sensitive files and credentials.
    "Read sensitive file untrusted": FalcoMeaning("sensitive-file", _S.HIGH, "T1003.008"),
    "Read sensitive file trusted after startup": FalcoMeaning(
        "sensitive-file", _S.MEDIUM, "T1003.008"
    ),
    "Directory traversal monitored file read": FalcoMeaning("sensitive-file", _S.HIGH, "T1003.008"),
    "Search Private Keys or Passwords": FalcoMeaning("sensitive-file", _S.HIGH, "T1552.001"),
    "Find AWS Credentials": FalcoMeaning("sensitive-file", _S.HIGH, "T1552.001"),
    "Read ssh information": FalcoMeaning("sensitive-file", _S.HIGH, "T1552.004"),
    "Contact EC2 Instance Metadata Service From Container": FalcoMeaning(
        "sensitive-file", _S.HIGH, "T1552.005"
    ),
    "Contact cloud metadata service from container": FalcoMeaning(
        "sensitive-file", _S.HIGH, "T1552.005"
    ),
}

# Tags of rules not named above, in the order they are tried.
_TAGS: tuple[tuple[str, FalcoMeaning], ...] = (
    ("shell", FalcoMeaning("shell", _S.MEDIUM, "T1059.004")),
    ("mitre_privilege_escalation", FalcoMeaning("privilege-escalation", _S.MEDIUM, "")),
    ("mitre_credential_access", FalcoMeaning("sensitive-file", _S.MEDIUM, "")),
)

# Process names of port and address scanners: a network-tool rule that ran one is T1046.
SCANNERS = frozenset({"nmap", "masscan", "zmap", "rustscan", "naabu", "unicornscan", "hping3"})
_TECHNIQUE_TAG = re.compile(r"^T\d{4}(\.\d{3})?$")

_PRIORITY = {
    "emergency": _S.CRITICAL,
    "alert": _S.CRITICAL,
    "critical": _S.CRITICAL,
    "error": _S.HIGH,
    "warning": _S.MEDIUM,
    "notice": _S.LOW,
    "informational": _S.INFO,
    "info": _S.INFO,
    "debug": _S.INFO,
}


def priority_severity(priority: str) -> Severity:
    """Falco's priorities are syslog's levels (falco.yaml `priority`)."""
    return _PRIORITY.get(priority.strip().lower(), _S.LOW)


def tag_technique(tags: tuple[str, ...]) -> str:
    """The first technique ID among a rule's tags (Falco tags rules `T1059`, `T1552.001`)."""
    return next((t for t in tags if _TECHNIQUE_TAG.fullmatch(t)), "")


@functools.lru_cache(maxsize=4096)
def meaning(rule: str, tags: tuple[str, ...], process: str = "") -> FalcoMeaning:
    """The category, severity and technique of one firing of `rule` (cached: a cluster's
    firings repeat a few rules, tag sets and processes)."""
    found = _RULES.get(rule)
    if found is None:
        tagged = set(tags)
        for tag, m in _TAGS:
            if tag in tagged:
                found = FalcoMeaning(m.category, m.severity, m.technique or tag_technique(tags))
                break
    if found is None:
        return FalcoMeaning("generic", _S.LOW, tag_technique(tags), known=False)
    if found.category == "network-tool" and not found.technique:
        scanner = process.rsplit("/", 1)[-1] in SCANNERS
        return FalcoMeaning(found.category, found.severity, "T1046" if scanner else "T1059")
    return found
