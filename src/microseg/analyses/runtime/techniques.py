"""The MITRE ATT&CK techniques the detectors name, as the ATT&CK site defines them
(https://attack.mitre.org/techniques/<ID>/; Enterprise matrix, Linux and Containers
platforms). A detector names one only where the behaviour is what the technique describes;
an alert without a fitting one has none.
"""

from __future__ import annotations

from microseg.model.events import Technique

__all__ = ["TECHNIQUES", "technique"]

TECHNIQUES: dict[str, Technique] = {
    t.id: t
    for t in (
        Technique("T1059", "Command and Scripting Interpreter", "execution"),
        Technique("T1059.004", "Command and Scripting Interpreter: Unix Shell", "execution"),
        Technique("T1609", "Container Administration Command", "execution"),
        Technique("T1610", "Deploy Container", "execution"),
        Technique("T1611", "Escape to Host", "privilege-escalation"),
        Technique(
            "T1548.001",
            "Abuse Elevation Control Mechanism: Setuid and Setgid",
            "privilege-escalation",
        ),
        Technique(
            "T1548.003",
            "Abuse Elevation Control Mechanism: Sudo and Sudo Caching",
            "privilege-escalation",
        ),
        Technique("T1040", "Network Sniffing", "discovery"),
        Technique("T1046", "Network Service Discovery", "discovery"),
        Technique("T1018", "Remote System Discovery", "discovery"),
        Technique("T1613", "Container and Resource Discovery", "discovery"),
        Technique(
            "T1003.008", "OS Credential Dumping: /etc/passwd and /etc/shadow", "credential-access"
        ),
        Technique("T1552.001", "Unsecured Credentials: Credentials In Files", "credential-access"),
        Technique("T1552.004", "Unsecured Credentials: Private Keys", "credential-access"),
        Technique(
            "T1552.005", "Unsecured Credentials: Cloud Instance Metadata API", "credential-access"
        ),
        Technique("T1552.007", "Unsecured Credentials: Container API", "credential-access"),
        Technique(
            "T1098.006", "Account Manipulation: Additional Container Cluster Roles", "persistence"
        ),
        Technique("T1105", "Ingress Tool Transfer", "command-and-control"),
    )
}


def technique(ident: str) -> Technique | None:
    """A known technique by ID; an ID a source names that is not in the table (a Falco
    tag) is kept by its ID, without a name."""
    if not ident:
        return None
    return TECHNIQUES.get(ident) or Technique(ident, "", "")
