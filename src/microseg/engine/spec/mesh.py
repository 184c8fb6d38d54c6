"""The slow, obviously correct mesh evaluator: one request, read straight off istio.io and
the raw documents.

A request is (source, destination pod, protocol, port). After membership and the
PeerAuthentication check (spec/mesh_identity.py) that decides whether the connection is mTLS
or plaintext and whether plaintext is accepted, the AuthorizationPolicy reference's five
steps are followed literally (https://istio.io/latest/docs/reference/config/security/authorization-policy/):

1. CUSTOM policies that match may deny (an external authorizer decides: a condition here);
2. a matching DENY policy denies;
3. with no ALLOW policy for the workload, the request is allowed;
4. a matching ALLOW policy allows;
5. otherwise the request is denied. AUDIT policies decide nothing.

Within a rule, `from` entries are ORed, `to` entries are ORed, and `from`, `to` and every
`when` condition are ANDed; an empty list is an absent field (protobuf). HTTP-only
attributes (methods, paths, hosts, request principals, `request.*` conditions) on plain TCP:
an ALLOW rule using them never matches; for a DENY (and CUSTOM) rule they are treated as
matches (the reference's TCP note and https://istio.io/latest/docs/tasks/security/authorization/authz-tcp/).
What a static analysis cannot know (HTTP attributes, most `when` keys) stays on the answer as
conditions: `requires` (one alternative must hold) and `unless` (none may).

Shares nothing with the engine: the fast mesh table is held to this by
tests/property/test_mesh_reference.py, which compares by meaning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microseg.engine.spec.kube import Doc, cidr_contains, field, items
from microseg.engine.spec.mesh_identity import (
    AMBIENT,
    NONE,
    SIDECAR,
    MeshSettings,
    http_kind,
    mesh_mode,
    mtls_mode,
)
from microseg.engine.spec.world import Endpoint, World

__all__ = ["Answer", "Clause", "MeshReference", "MeshSettings"]

Fields = frozenset[tuple[str, tuple[str, ...]]]
# Conditions a static analysis can decide for every request (istio.io "Authorization Policy
# Conditions"): remote.ip is the original client, the peer itself on a direct connection.
STATIC_KEYS = ("destination.port", "source.namespace", "source.principal", "source.ip", "remote.ip")
SOURCE_HTTP = ("requestPrincipals", "notRequestPrincipals")
OPERATION_HTTP = ("methods", "notMethods", "paths", "notPaths", "hosts", "notHosts")


@dataclass(frozen=True, slots=True)
class Clause:
    """One alternative of a condition: `prefix` ("", "if HTTP", "ext-authz <provider>
    denies") and the attributes that must hold (empty: none)."""

    prefix: str
    fields: Fields = frozenset()


@dataclass(frozen=True, slots=True)
class Answer:
    allowed: bool
    requires: frozenset[Clause] = frozenset()
    unless: frozenset[Clause] = frozenset()


DENIED = Answer(False)


@dataclass(frozen=True, slots=True)
class _Request:
    mtls: bool
    principal: str  # "" for plaintext: only `not...` fields can match it
    namespace: str
    account: str  # ns/name
    address: str | None  # None: unknown (a template pod)
    port: int
    http: bool


def istio_match(pattern: str, value: str) -> bool:
    """Exact, prefix `abc*`, suffix `*abc`, presence `*` (a non-empty value)."""
    if pattern == "*":
        return value != ""
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    return value == pattern


def _values(doc: Doc, key: str) -> list[str] | None:
    raw = doc.get(key)
    return [str(v) for v in raw] if raw else None


def _in_blocks(address: str | None, blocks: list[str]) -> bool:
    return address is not None and any(cidr_contains(b, address) for b in blocks)


class MeshReference:
    """One input's documents; `evaluate` answers one request at a time."""

    def __init__(self, world: World, settings: MeshSettings | None = None) -> None:
        self.world, self.settings = world, settings or MeshSettings()

    def mode(self, pod: Endpoint) -> str:
        return mesh_mode(self.world, pod, self.settings)

    def _applies(self, policy: Doc, pod: Endpoint) -> bool:
        """Root-namespace policies cover every namespace, others their own; a selector narrows;
        a targetRef policy binds waypoints or gateways, which are not modelled."""
        spec = policy.get("spec") or {}
        if spec.get("targetRef") or spec.get("targetRefs"):
            return False
        ns = self.world.namespace_of(policy)
        if ns not in (self.settings.root_namespace, pod.namespace):
            return False
        selector = field(spec, "selector", "matchLabels", default={})
        return all(pod.labels.get(str(k)) == str(v) for k, v in selector.items())

    # --- matching -------------------------------------------------------------------

    def _source_l4(self, source: Doc, req: _Request, policy_ns: str) -> bool:
        def accounts(values: list[str]) -> list[str]:
            # `<sa>` alone names an account of the policy's namespace.
            return [v if "/" in v else f"{policy_ns}/{v}" for v in values]

        tests: list[tuple[str, Any]] = [
            ("principals", lambda vs: any(istio_match(v, req.principal) for v in vs)),
            ("namespaces", lambda vs: any(istio_match(v, req.namespace) for v in vs)),
            ("serviceAccounts", lambda vs: req.mtls and req.account in accounts(vs)),
            ("ipBlocks", lambda vs: _in_blocks(req.address, vs)),
            ("remoteIpBlocks", lambda vs: _in_blocks(req.address, vs)),
        ]
        for name, test in tests:
            positive = _values(source, name)
            if positive is not None and not test(positive):
                return False
            negative = _values(source, "not" + name[0].upper() + name[1:])
            if negative is not None and test(negative):
                return False
        return True

    @staticmethod
    def _operation_l4(op: Doc, port: int) -> bool:
        ports, not_ports = _values(op, "ports"), _values(op, "notPorts")
        if ports is not None and str(port) not in ports:
            return False
        return not (not_ports is not None and str(port) in not_ports)

    @staticmethod
    def _condition_holds(cond: Doc, req: _Request) -> bool:
        key = cond["key"]

        def hit(patterns: list[str]) -> bool:
            if key == "destination.port":
                return str(req.port) in patterns
            if key in ("source.ip", "remote.ip"):
                return _in_blocks(req.address, patterns)
            value = req.namespace if key == "source.namespace" else req.principal
            return any(istio_match(p, value) for p in patterns)

        values, not_values = _values(cond, "values"), _values(cond, "notValues")
        if values is not None and not hit(values):
            return False
        return not (not_values is not None and hit(not_values))

    @staticmethod
    def _http_parts(doc: Doc, names: tuple[str, ...]) -> list[tuple[str, tuple[str, ...]]]:
        return [(n, tuple(vs)) for n in names if (vs := _values(doc, n)) is not None]

    def _uses_http(self, rule: Doc) -> bool:
        return (
            any(self._http_parts(f.get("source") or {}, SOURCE_HTTP) for f in items(rule, "from"))
            or any(
                self._http_parts(t.get("operation") or {}, OPERATION_HTTP)
                for t in items(rule, "to")
            )
            or any(str(c["key"]).startswith("request.") for c in items(rule, "when"))
        )

    def _rule(self, rule: Doc, action: str, req: _Request, policy_ns: str) -> set[Fields] | None:
        """The alternatives under which the rule matches (an empty frozenset: always), or
        None when it cannot match."""
        rule = rule or {}
        if not req.http and action == "ALLOW" and self._uses_http(rule):
            return None
        when: list[tuple[str, tuple[str, ...]]] = []
        for cond in items(rule, "when"):
            key = str(cond["key"])
            if key in STATIC_KEYS:
                if not self._condition_holds(cond, req):
                    return None
            elif req.http or not key.startswith("request."):
                for suffix, name in (("", "values"), (" not", "notValues")):
                    if (vs := _values(cond, name)) is not None:
                        when.append((key + suffix, tuple(vs)))
        sources = [f.get("source") or {} for f in items(rule, "from")] or [None]
        operations = [t.get("operation") or {} for t in items(rule, "to")] or [None]
        out: set[Fields] = set()
        for source in sources:
            if source is not None and not self._source_l4(source, req, policy_ns):
                continue
            s_parts = self._http_parts(source, SOURCE_HTTP) if source and req.http else []
            for op in operations:
                if op is not None and not self._operation_l4(op, req.port):
                    continue
                o_parts = self._http_parts(op, OPERATION_HTTP) if op and req.http else []
                out.add(frozenset(s_parts + o_parts + when))
        return out or None

    # --- the request ------------------------------------------------------------------

    def _request(
        self, src: Endpoint | str, dst: Endpoint, port: int, http: bool
    ) -> tuple[_Request, bool]:
        """The request as the destination sees it, and whether plaintext is rejected."""
        mode = mtls_mode(self.world, dst, port, self.mode(dst), self.settings)
        if isinstance(src, Endpoint):
            src_in = self.mode(src) != NONE
            address = src.ips[0] if src.ips else None
        else:
            src_in, address = False, src
        # Auto mTLS: a mesh client speaks mTLS to a mesh server unless the server DISABLEs it
        # (https://istio.io/latest/docs/concepts/security/#auto-mutual-tls).
        mtls = src_in and mode != "DISABLE"
        if mtls and isinstance(src, Endpoint):
            td = self.settings.trust_domain
            req = _Request(
                True,
                f"{td}/ns/{src.namespace}/sa/{src.service_account}",
                src.namespace,
                f"{src.namespace}/{src.service_account}",
                address,
                port,
                http,
            )
        else:
            req = _Request(False, "", "", "", address, port, http)
        return req, mode == "STRICT" and not mtls

    def _authorize(self, src: Endpoint | str, dst: Endpoint, port: int, http: bool) -> Answer:
        req, rejected = self._request(src, dst, port, http)
        if rejected:
            return DENIED
        policies = [p for p in self.world.of("AuthorizationPolicy") if self._applies(p, dst)]

        def action(p: Doc) -> str:
            return str(field(p, "spec", "action", default="ALLOW"))

        unless: set[Clause] = set()
        for wanted in ("CUSTOM", "DENY"):
            for policy in (p for p in policies if action(p) == wanted):
                ns = self.world.namespace_of(policy)
                provider = str(field(policy, "spec", "provider", "name", default=""))
                for rule in items(policy, "spec", "rules"):
                    alternatives = self._rule(rule, wanted, req, ns)
                    if alternatives is None:
                        continue
                    if wanted == "CUSTOM":
                        prefix = f"ext-authz {provider} denies"
                        unless |= {Clause(prefix, a) for a in alternatives}
                    elif frozenset() in alternatives:
                        return DENIED
                    else:
                        unless |= {Clause("", a) for a in alternatives}
        allows = [p for p in policies if action(p) == "ALLOW"]
        if not allows:
            return Answer(True, frozenset(), frozenset(unless))
        requires: set[Fields] = set()
        for policy in allows:
            ns = self.world.namespace_of(policy)
            for rule in items(policy, "spec", "rules"):
                requires |= self._rule(rule, "ALLOW", req, ns) or set()
        if not requires:
            return DENIED
        if frozenset() in requires:
            return Answer(True, frozenset(), frozenset(unless))
        return Answer(True, frozenset(Clause("", r) for r in requires), frozenset(unless))

    def evaluate(self, src: Endpoint | str, dst: Endpoint, protocol: str, port: int) -> Answer:
        """The mesh's answer to one request from `src` (a pod, or an external address)."""
        if protocol != "TCP":
            return Answer(True)  # the sidecar and ztunnel intercept TCP only
        mode = self.mode(dst)
        if mode == NONE:
            return Answer(True)
        kind = http_kind(self.world, dst, port) if mode == SIDECAR else "tcp"
        assert mode in (SIDECAR, AMBIENT)  # ztunnel authorizes at L4 only
        if kind != "sniffed":
            return self._authorize(src, dst, port, kind == "http")
        # Detected at run time: plain TCP, or HTTP. What TCP traffic gets, HTTP traffic gets
        # too; what only HTTP traffic gets holds on the condition that the traffic is HTTP.
        tcp = self._authorize(src, dst, port, False)
        if tcp.allowed:
            return tcp
        web = self._authorize(src, dst, port, True)
        if not web.allowed:
            return tcp
        requires = frozenset(Clause("if HTTP", c.fields) for c in web.requires) or frozenset(
            {Clause("if HTTP")}
        )
        return Answer(True, requires, web.unless)
