"""The hand-written mutants: one-line wrong readings of microseg's central rules, each as
exact text edits (tests/mutation/mutate.py applies them; test_mutants_apply.py checks that
each original text still occurs exactly once)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MUTANTS", "Edit", "Mutant"]


@dataclass(frozen=True)
class Edit:
    """Replace `original`, which must occur exactly once in `file` (relative to the repo)."""

    file: str
    original: str
    replacement: str


@dataclass(frozen=True)
class Mutant:
    """One wrong rule: usually one edit; several when the same wrong reading is written into
    every code path that states the rule (so that engine-vs-reference tests agree)."""

    name: str
    why: str
    edits: tuple[Edit, ...]


NETPOLS = "src/microseg/ingest/netpols.py"
RULES = "src/microseg/engine/index/rules.py"
SPEC = "src/microseg/engine/spec/netpol.py"
EXPLAIN = "src/microseg/engine/explain/netpol.py"
COMBINE = "src/microseg/engine/combine.py"
MATCH = "src/microseg/engine/mesh/match.py"
CLUSTER = "src/microseg/model/cluster.py"
OBJECTS = "src/microseg/model/objects.py"
TABLE = "src/microseg/engine/mesh/table.py"
ISTIO = "src/microseg/ingest/istio.py"
WORKLOADS = "src/microseg/ingest/workloads.py"
MANIFESTS = "src/microseg/ingest/manifests.py"
SPEC_WORLD = "src/microseg/engine/spec/world.py"
SPEC_MESH = "src/microseg/engine/spec/mesh.py"
SPEC_IDENTITY = "src/microseg/engine/spec/mesh_identity.py"
POTENTIAL = "src/microseg/analyses/potential/__init__.py"
POTENTIAL_PEERS = "src/microseg/analyses/potential/peers.py"
POTENTIAL_TIERS = "src/microseg/analyses/potential/tiers.py"

_SCHEMA_PEERS = Edit(
    NETPOLS,
    "peers=tuple(_peer(p, namespace) for p in peers) if peers else None,",
    "peers=tuple(_peer(p, namespace) for p in peers) if peers is not None else None,",
)
_FAST_PEERS = Edit(NETPOLS, "peers=peers or None,", "peers=peers,")
_SCHEMA_TYPES = (
    "types = frozenset([Direction.INGRESS] + ([Direction.EGRESS] if spec.egress else []))"
)
_FAST_TYPES = "types = frozenset([Direction.INGRESS] + ([Direction.EGRESS] if egress else []))"
_CODE_OF = "CODE_OF = {Action.ALLOW: ALLOW, Action.DENY: DENY, Action.PASS: PASS}"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "empty-peers-match-nothing-ingest",
        "`from: []` / `to: []` read as no peer at all (both ingest paths)",
        (_SCHEMA_PEERS, _FAST_PEERS),
    ),
    Mutant(
        "empty-peers-match-nothing-fast-path",
        "`from: []` read as no peer, in the memoized ingest path only",
        (_FAST_PEERS,),
    ),
    Mutant(
        "empty-peers-match-nothing-schema-path",
        "`from: []` read as no peer, in the pydantic ingest path only",
        (_SCHEMA_PEERS,),
    ),
    Mutant(
        "absent-peers-match-nothing-engine-and-reference",
        "a rule without peers (None) matches nothing, in the engine, explanations and reference",
        (
            Edit(RULES, "cached = np.arange(self.n_peers)", "cached = np.arange(0)"),
            Edit(
                RULES,
                "            return self.all_peers()",
                "            return np.zeros(self.n_peers, dtype=np.bool_)",
            ),
            Edit(EXPLAIN, "        return True  # no `from`/`to`", "        return False  # no"),
            Edit(
                SPEC,
                "peers_ok = not peers or any(",
                "peers_ok = bool(peers) and any(",
            ),
        ),
    ),
    Mutant(
        "policytypes-egress-never-defaulted",
        "policyTypes absent: Ingress only, even with egress rules (both ingest paths)",
        (
            Edit(NETPOLS, _SCHEMA_TYPES, "types = frozenset([Direction.INGRESS])"),
            Edit(NETPOLS, _FAST_TYPES, "types = frozenset([Direction.INGRESS])"),
        ),
    ),
    Mutant(
        "policytypes-ingress-only-with-rules",
        "policyTypes absent: Ingress only when the policy has ingress rules (both ingest paths)",
        (
            Edit(
                NETPOLS,
                _SCHEMA_TYPES,
                "types = frozenset(([Direction.INGRESS] if spec.ingress else [])"
                " + ([Direction.EGRESS] if spec.egress else []))",
            ),
            Edit(
                NETPOLS,
                _FAST_TYPES,
                "types = frozenset(([Direction.INGRESS] if ingress else [])"
                " + ([Direction.EGRESS] if egress else []))",
            ),
        ),
    ),
    Mutant(
        "policy-namespace-default-wrong",
        "a NetworkPolicy without metadata.namespace lands outside `default` (both paths)",
        (
            Edit(
                NETPOLS,
                'namespace = raw.metadata.namespace or "default"',
                'namespace = raw.metadata.namespace or "kube-system"',
            ),
            Edit(
                NETPOLS,
                '    namespace = namespace or "default"',
                '    namespace = namespace or "x"',
            ),
        ),
    ),
    Mutant(
        "pod-selector-peer-every-namespace",
        "a podSelector-only peer matches pods of every namespace, not the policy's own",
        (
            Edit(
                NETPOLS,
                "return PodPeer(pods, namespace=namespace)",
                "return PodPeer(pods, namespace_selector=LabelSelector())",
            ),
        ),
    ),
    Mutant(
        "ns-and-pod-selector-union",
        "namespaceSelector + podSelector in one peer read as a union (engine and reference)",
        (
            Edit(
                RULES,
                "return ns_ok & self.pod_labels.match(peer.pod_selector) & ~self.classes.host_network",
                "return (ns_ok | self.pod_labels.match(peer.pod_selector)) & ~self.classes.host_network",
            ),
            Edit(
                SPEC,
                'return ns_ok and selector_matches(peer.get("podSelector"), pod.labels)',
                'return ns_ok or selector_matches(peer.get("podSelector"), pod.labels)',
            ),
        ),
    ),
    Mutant(
        "ipblock-except-ignored",
        "ipBlock.except subtracts nothing",
        (Edit(NETPOLS, "addresses = addresses - IPSet.from_cidr(e)", "addresses = addresses"),),
    ),
    Mutant(
        "endport-ignored",
        "a port with endPort allows only its first port",
        (
            Edit(
                NETPOLS,
                "return PortSpec(protocol, raw.port, raw.endPort if raw.endPort is not None else raw.port)",
                "return PortSpec(protocol, raw.port, raw.port)",
            ),
        ),
    ),
    Mutant(
        "named-port-any-protocol",
        "a named port resolves to a container port of that name whatever its protocol",
        (Edit(OBJECTS, "if p.name == name and p.protocol is protocol:", "if p.name == name:"),),
    ),
    Mutant(
        "tier-order-reversed",
        "admin policies evaluated by descending priority",
        (
            Edit(
                CLUSTER,
                "return tuple(sorted(chosen, key=lambda p: (p.priority, p.name)))",
                "return tuple(sorted(chosen, key=lambda p: (p.priority, p.name), reverse=True))",
            ),
        ),
    ),
    Mutant(
        "pass-as-allow",
        "an admin or baseline Pass allows, instead of handing the port down",
        (
            Edit(
                COMBINE,
                _CODE_OF,
                "CODE_OF = {Action.ALLOW: ALLOW, Action.DENY: DENY, Action.PASS: ALLOW}",
            ),
        ),
    ),
    Mutant(
        "anp-deny-as-no-match",
        "an admin Deny decides nothing (engine's tier codes)",
        (
            Edit(
                COMBINE,
                _CODE_OF,
                "CODE_OF = {Action.ALLOW: ALLOW, Action.DENY: NO_MATCH, Action.PASS: PASS}",
            ),
        ),
    ),
    Mutant(
        "anp-deny-as-no-match-reference-too",
        "an admin Deny decides nothing, in the engine's codes and the reference",
        (
            Edit(
                COMBINE,
                _CODE_OF,
                "CODE_OF = {Action.ALLOW: ALLOW, Action.DENY: NO_MATCH, Action.PASS: PASS}",
            ),
            Edit(SPEC, 'if admin in ("Allow", "Deny"):', 'if admin == "Allow":'),
            Edit(SPEC, 'return baseline != "Deny"', "return True"),
        ),
    ),
    Mutant(
        "banp-over-isolating-np",
        "the baseline tier is consulted for pods a NetworkPolicy isolates",
        (
            Edit(
                COMBINE,
                "open_ = ~isolated[tier.rows]",
                "open_ = np.ones(len(tier.rows), dtype=np.bool_)",
            ),
        ),
    ),
    Mutant(
        "pa-precedence-reversed",
        "PeerAuthentication: mesh-wide beats namespace beats workload",
        (
            Edit(
                MATCH,
                "for level in (workload, namespace, mesh) if level]",
                "for level in (mesh, namespace, workload) if level]",
            ),
        ),
    ),
    # --- the mesh's engine rules (the table and the explanations share engine/mesh/match.py:
    # only the independent reference, engine/spec/mesh.py, can tell these apart) -----------
    Mutant(
        "mesh-root-namespace-policies-local",
        "an AuthorizationPolicy in the root namespace applies to its own namespace only",
        (
            Edit(
                MATCH,
                "if policy.namespace != cluster.mesh.root_namespace and policy.namespace != pod.namespace:",
                "if policy.namespace != pod.namespace:",
            ),
        ),
    ),
    Mutant(
        "istio-prefix-match-exact",
        "an Istio value `abc*` matches only `abc*` itself",
        (
            Edit(
                MATCH,
                "        return value.startswith(pattern[:-1])",
                "        return value == pattern",
            ),
        ),
    ),
    Mutant(
        "when-not-values-ignored",
        "a `when` condition's notValues exclude nothing",
        (
            Edit(
                MATCH,
                "    return not (c.not_values is not None and hit(c.not_values))",
                "    return True",
            ),
        ),
    ),
    Mutant(
        "grpc-not-http",
        "Service ports named grpc* or grpc-web* are not HTTP to the sidecar",
        (
            Edit(
                MATCH,
                'HTTP_PREFIXES = ("http", "http2", "grpc", "grpc-web")',
                'HTTP_PREFIXES = ("http", "http2")',
            ),
        ),
    ),
    Mutant(
        "strict-accepts-plaintext",
        "STRICT mTLS accepts plaintext (the fast table only)",
        (
            Edit(
                TABLE,
                "reject = strict[None, :] & ~mtls",
                "reject = strict[None, :] & ~mtls & False",
            ),
        ),
    ),
    Mutant(
        "custom-authz-ignored",
        "a CUSTOM policy's external authorizer never denies (the fast table only)",
        (
            Edit(
                TABLE,
                "unless[ext_authz_condition(policy.provider, text)] |= cells",
                "pass",
            ),
        ),
    ),
    Mutant(
        "bare-service-account-other-namespace",
        "`serviceAccounts: [sa]` names `sa/sa`, not the policy's namespace (ingest)",
        (
            Edit(
                ISTIO,
                'return _t([v if "/" in v else f"{namespace}/{v}" for v in values or []])',
                'return _t([v if "/" in v else f"{v}/{v}" for v in values or []])',
            ),
        ),
    ),
    # --- ingest rules only the front-door property tests read differentially ----------------
    Mutant(
        "container-port-protocol-default-udp",
        "a container port without protocol is UDP (ingest)",
        (Edit(WORKLOADS, 'proto = p.get("protocol", "TCP")', 'proto = p.get("protocol", "UDP")'),),
    ),
    Mutant(
        "undeclared-namespace-without-name-label",
        "a referenced but undeclared namespace carries no kubernetes.io/metadata.name label",
        (
            Edit(
                MANIFESTS,
                "name, FrozenLabels({NAMESPACE_NAME_LABEL: name}), declared=False",
                "name, FrozenLabels({}), declared=False",
            ),
        ),
    ),
    # --- the reference evaluators alone: the engine must tell them they are wrong ------------
    Mutant(
        "spec-policytypes-egress-never",
        "reference: policyTypes absent means Ingress only, even with egress rules",
        (
            Edit(
                SPEC,
                'return {INGRESS, EGRESS} if spec.get("egress") else {INGRESS}',
                "return {INGRESS}",
            ),
        ),
    ),
    Mutant(
        "spec-empty-peers-match-nothing",
        "reference: `from: []` matches no peer",
        (Edit(SPEC, "peers_ok = not peers or any(", "peers_ok = bool(peers) and any("),),
    ),
    Mutant(
        "spec-except-ignored",
        "reference: ipBlock.except subtracts nothing",
        (
            Edit(
                SPEC,
                'return self._in_block(other, block["cidr"], list(block.get("except") or []))',
                'return self._in_block(other, block["cidr"], [])',
            ),
        ),
    ),
    Mutant(
        "spec-endport-ignored",
        "reference: endPort ignored",
        (
            Edit(
                SPEC, 'elif number <= port <= (p.get("endPort") or number):', "elif number == port:"
            ),
        ),
    ),
    Mutant(
        "spec-named-port-any-protocol",
        "reference: a named port resolves whatever the container port's protocol",
        (
            Edit(
                SPEC,
                "p.name == name and p.protocol == protocol and p.number == port",
                "p.name == name and p.number == port",
            ),
        ),
    ),
    Mutant(
        "spec-tier-order-reversed",
        "reference: admin policies by descending priority",
        (
            Edit(
                SPEC,
                "self.admin = sorted(admin, key=lambda p: (p.priority, p.name))",
                "self.admin = sorted(admin, key=lambda p: (p.priority, p.name), reverse=True)",
            ),
        ),
    ),
    Mutant(
        "spec-pass-as-allow",
        "reference: an admin Pass allows",
        (
            Edit(SPEC, 'return admin == "Allow"', 'return admin != "Deny"'),
            Edit(SPEC, 'if admin in ("Allow", "Deny"):', "if admin is not None:"),
        ),
    ),
    Mutant(
        "spec-undeclared-namespace-unlabelled",
        "reference: an undeclared namespace has no labels",
        (
            Edit(
                SPEC_WORLD,
                "return self.namespaces.get(name, {NAME_LABEL: name})",
                "return self.namespaces.get(name, {})",
            ),
        ),
    ),
    Mutant(
        "spec-template-pods-missing",
        "reference: a controller given without pods is no endpoint",
        (Edit(SPEC_WORLD, "out.append(_endpoint(namespace, name, kind, template, {}))", "pass"),),
    ),
    Mutant(
        "spec-pa-precedence-reversed",
        "reference: PeerAuthentication mesh-wide beats namespace beats workload",
        (
            Edit(
                SPEC_IDENTITY,
                "for level in (workload, namespace, mesh):",
                "for level in (mesh, namespace, workload):",
            ),
        ),
    ),
    Mutant(
        "spec-pa-port-level-ignored",
        "reference: portLevelMtls ignored",
        (Edit(SPEC_IDENTITY, 'by_port.get(port, "UNSET"),', '"UNSET",'),),
    ),
    Mutant(
        "spec-app-protocol-ignored",
        "reference: a Service port's appProtocol ignored (the name decides)",
        (Edit(SPEC_IDENTITY, 'app = port.get("appProtocol")', "app = None"),),
    ),
    Mutant(
        "spec-revision-label-ignored",
        "reference: a pod's istio.io/rev label injects nothing",
        (Edit(SPEC_IDENTITY, "revision = REVISION in pod.labels and", "revision = False and"),),
    ),
    Mutant(
        "spec-static-when-ignored",
        "reference: `when` keys known statically (ports, namespaces, principals, IPs) never fail",
        (Edit(SPEC_MESH, "if not self._condition_holds(cond, req):", "if False:"),),
    ),
    Mutant(
        "spec-bare-service-account",
        "reference: `serviceAccounts: [sa]` compared as written",
        (
            Edit(
                SPEC_MESH,
                'return [v if "/" in v else f"{policy_ns}/{v}" for v in values]',
                "return list(values)",
            ),
        ),
    ),
    # --- connectivity --exposure (analyses/potential) -------------------------------------------
    Mutant(
        "exposure-subset-selectors-match",
        "a rule matches a potential peer whose selector merely includes the rule's",
        (
            Edit(
                POTENTIAL_PEERS,
                "return potential is not None and _key(rule) == _key(potential)",
                "return potential is not None and _key(rule) <= _key(potential)",
            ),
        ),
    ),
    Mutant(
        "exposure-any-empty-namespace-is-cluster",
        "`namespaceSelector: {}` with a podSelector counts as the whole cluster",
        (Edit(POTENTIAL_PEERS, "        and peer.pod_selector.is_empty()\n    )", "    )"),),
    ),
    Mutant(
        "exposure-real-pods-stand-in-for-nothing",
        "potential peers a real pod matches are listed anyway",
        (
            Edit(
                POTENTIAL_PEERS,
                "return any(p.pods.matches(labels) and p.namespaces.matches(ns) for ns, labels in reals)",
                "return False",
            ),
        ),
    ),
    Mutant(
        "exposure-everyone-protected",
        "workloads no policy selects are not reported as unprotected",
        (Edit(POTENTIAL, "        if not protected:", "        if False:"),),
    ),
    Mutant(
        "exposure-pass-as-allow",
        "an admin Pass towards a potential peer allows",
        (Edit(POTENTIAL_TIERS, "passed = passed | ports", "allowed = allowed | ports"),),
    ),
    Mutant(
        "exposure-unresolved-names-dropped",
        "named ports towards workloads that do not exist are dropped",
        (Edit(POTENTIAL_TIERS, "named.add((None if admin else s.protocol, s.name))", "pass"),),
    ),
    Mutant(
        "exposure-peers-equal-to-cluster-listed",
        "potential peers the entire-cluster connection covers are listed too",
        (Edit(POTENTIAL, "if (wide and ports != wide) or (not wide and ports):", "if ports:"),),
    ),
    Mutant(
        "pa-port-level-ignored",
        "PeerAuthentication portLevelMtls ignored",
        (
            Edit(
                MATCH,
                "port_mode = dict(pa.port_modes).get(port, MtlsMode.UNSET)",
                "port_mode = MtlsMode.UNSET",
            ),
        ),
    ),
)
