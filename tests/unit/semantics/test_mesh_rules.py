"""Istio PeerAuthentication precedence and modes, as connectivity answers.

Why: the fast mesh table and the mesh reference evaluator share the lookup of the effective
mTLS mode (engine/mesh/match.py), so the mesh property test cannot catch a wrong precedence.
These tests are written from istio.io's PeerAuthentication reference
(istio.io/latest/docs/reference/config/security/peer_authentication/): the policy with a
workload selector beats the namespace-wide one, which beats the mesh-wide one in the root
namespace; UNSET inherits from the wider scope; `portLevelMtls` overrides per port; with no
policy the mode is PERMISSIVE; STRICT rejects plaintext, so a caller outside the mesh is
denied while a mesh workload gets in. The sidecar governs TCP only.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from microseg.engine import Connectivity
from microseg.engine.query import Layer, Verdict
from microseg.engine.spec.mesh import MeshReference
from microseg.engine.spec.world import World as Documents
from microseg.model import ConnSet
from tests.unit.semantics._support import World, tcp, udp, written_text

BASE = """
apiVersion: v1
kind: Namespace
metadata: {name: istio-system}
---
apiVersion: v1
kind: Namespace
metadata: {name: mesh, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Namespace
metadata: {name: plain}
---
apiVersion: v1
kind: Pod
metadata: {name: server, namespace: mesh, labels: {app: server}}
spec:
  serviceAccountName: server
  containers: [{name: c, image: i, ports: [{containerPort: 8080}, {containerPort: 9090}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: server2, namespace: mesh, labels: {app: server2}}
spec:
  containers: [{name: c, image: i, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Pod
metadata: {name: caller, namespace: mesh, labels: {app: caller}}
spec:
  serviceAccountName: caller
  containers: [{name: c, image: i}]
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: plain, labels: {app: client}}
spec: {containers: [{name: c, image: i}]}
"""

PLAINTEXT = "plain/client"  # outside the mesh: plaintext
MTLS = "mesh/caller"  # a mesh workload: mTLS


def _pa(name: str, namespace: str, mode: str | None, extra: str = "") -> str:
    mtls = f"mtls: {{mode: {mode}}}\n" if mode else ""
    spec = textwrap.indent((mtls + textwrap.dedent(extra).strip()).strip() or "{}", "  ")
    return (
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
        f"metadata: {{name: {name}, namespace: {namespace}}}\nspec:\n{spec}\n"
    )


def _mesh(mode: str) -> str:
    return _pa("default", "istio-system", mode)


def _namespace(mode: str) -> str:
    return _pa("default", "mesh", mode)


def _workload(mode: str | None, extra: str = "", app: str = "server") -> str:
    return _pa(f"{app}-pa", "mesh", mode, f"selector: {{matchLabels: {{app: {app}}}}}\n{extra}")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path, BASE, layer=Layer.BOTH)


def _gets_in(conn: Connectivity, src: str, port: int, dst: str = "mesh/server") -> bool:
    """The engine's answer, held equal to the mesh reference's on the same text: each rule
    here is then asserted of both, so a precedence reversed in either one alone fails."""
    conns: ConnSet = tcp(port)
    allowed = conn.reach(src, dst, conns).verdict is Verdict.ALLOW
    assert _reference_gets_in(written_text(conn), src, port, dst) == allowed, (src, dst, port)
    return allowed


def _reference_gets_in(text: str, src: str, port: int, dst: str) -> bool:
    reference = MeshReference(Documents.read(list(yaml.safe_load_all(text))))
    pods = {f"{e.namespace}/{e.name}": e for e in reference.world.endpoints}
    answer = reference.evaluate(pods.get(src, src), pods[dst], "TCP", port)
    return answer.allowed and not answer.requires


def test_no_peer_authentication_is_permissive(world: World) -> None:
    # An AuthorizationPolicy elsewhere makes the input a mesh input without touching mTLS.
    conn = world.build(_pa("unrelated", "plain", None))
    assert _gets_in(conn, PLAINTEXT, 8080)
    assert _gets_in(conn, MTLS, 8080)


def test_mesh_wide_strict_rejects_plaintext_only(world: World) -> None:
    conn = world.build(_mesh("STRICT"))
    assert not _gets_in(conn, PLAINTEXT, 8080)
    assert not _gets_in(conn, "203.0.113.7", 8080)
    assert _gets_in(conn, MTLS, 8080)
    assert not _gets_in(conn, PLAINTEXT, 8080, "mesh/server2")


def test_strict_does_not_govern_udp(world: World) -> None:
    conn = world.build(_mesh("STRICT"))
    assert conn.reach(PLAINTEXT, "mesh/server", udp(8080)).verdict is Verdict.ALLOW


def test_namespace_beats_mesh_wide(world: World) -> None:
    conn = world.build(_mesh("STRICT"), _namespace("PERMISSIVE"))
    assert _gets_in(conn, PLAINTEXT, 8080)
    conn = world.build(_mesh("PERMISSIVE"), _namespace("STRICT"))
    assert not _gets_in(conn, PLAINTEXT, 8080)


def test_workload_beats_namespace_and_mesh(world: World) -> None:
    conn = world.build(_mesh("STRICT"), _namespace("STRICT"), _workload("PERMISSIVE"))
    assert _gets_in(conn, PLAINTEXT, 8080)
    assert not _gets_in(conn, PLAINTEXT, 8080, "mesh/server2")  # not selected
    conn = world.build(_mesh("PERMISSIVE"), _namespace("PERMISSIVE"), _workload("STRICT"))
    assert not _gets_in(conn, PLAINTEXT, 8080)
    assert _gets_in(conn, PLAINTEXT, 8080, "mesh/server2")


def test_workload_beats_mesh_without_namespace_policy(world: World) -> None:
    conn = world.build(_mesh("STRICT"), _workload("PERMISSIVE"))
    assert _gets_in(conn, PLAINTEXT, 8080)
    assert not _gets_in(conn, PLAINTEXT, 8080, "mesh/server2")


def test_unset_inherits_from_the_wider_scope(world: World) -> None:
    conn = world.build(_mesh("STRICT"), _namespace("UNSET"), _workload("UNSET"))
    assert not _gets_in(conn, PLAINTEXT, 8080)
    conn = world.build(_mesh("STRICT"), _namespace("PERMISSIVE"), _workload("UNSET"))
    assert _gets_in(conn, PLAINTEXT, 8080)


def test_port_level_mtls_overrides_its_policy_mode(world: World) -> None:
    conn = world.build(
        _namespace("STRICT"), _workload("STRICT", "portLevelMtls: {8080: {mode: PERMISSIVE}}")
    )
    assert _gets_in(conn, PLAINTEXT, 8080)
    assert not _gets_in(conn, PLAINTEXT, 9090)
    conn = world.build(_workload("PERMISSIVE", "portLevelMtls: {9090: {mode: STRICT}}"))
    assert _gets_in(conn, PLAINTEXT, 8080)
    assert not _gets_in(conn, PLAINTEXT, 9090)
    assert _gets_in(conn, MTLS, 9090)


def test_port_level_unset_inherits_the_policy_mode(world: World) -> None:
    conn = world.build(_workload("STRICT", "portLevelMtls: {8080: {mode: UNSET}}"))
    assert not _gets_in(conn, PLAINTEXT, 8080)


def test_other_namespace_policy_does_not_apply(world: World) -> None:
    conn = world.build(_pa("default", "plain", "STRICT"))
    assert _gets_in(conn, PLAINTEXT, 8080)


def _allow_from(source: str) -> str:
    return textwrap.dedent(
        f"""\
        apiVersion: security.istio.io/v1
        kind: AuthorizationPolicy
        metadata: {{name: server-callers, namespace: mesh}}
        spec:
          selector: {{matchLabels: {{app: server}}}}
          action: ALLOW
          rules: [{{from: [{{source: {source}}}]}}]
        """
    )


def test_service_accounts_bare_name_is_the_policy_namespace(world: World) -> None:
    """istio.io AuthorizationPolicy Source.serviceAccounts: `<sa>` alone names a service
    account of the policy's own namespace, `<ns>/<sa>` any other; both need mTLS."""
    conn = world.build(_allow_from("{serviceAccounts: [caller]}"))
    assert _gets_in(conn, MTLS, 8080)
    assert not _gets_in(conn, PLAINTEXT, 8080)
    conn = world.build(_allow_from("{serviceAccounts: [mesh/caller]}"))
    assert _gets_in(conn, MTLS, 8080)
    conn = world.build(_allow_from("{serviceAccounts: [plain/caller]}"))
    assert not _gets_in(conn, MTLS, 8080)
