"""From "which authorizations admit this client" to the verdict of one pod port, as the
proxy applies them (linkerd2-proxy linkerd/proxy/server-policy/src/lib.rs and http.rs,
linkerd/app/inbound/src/policy/): the same rules for the fast table and the explanations.

- opaque and TLS ports: a connection passes when a Server-level authorization admits it;
- a port whose protocol is detected (`unknown`): TCP traffic that is not HTTP is checked
  against the Server-level authorizations; an HTTP request is matched to a route and
  passes when the route's authorizations, to which the Server-level ones are appended
  (`mk_authorizations(route authzs, server authzs)`), admit it; a request that matches no
  route is refused (404);
- HTTP/1, HTTP/2 and gRPC ports: every request is HTTP and follows the routes;
- without routes of its own a Server (or the default policy) has the default route, which
  matches every request and carries the Server-level authorizations, plus the probe route
  (`GET` on the pod's probe paths, from the probe networks, unauthenticated).

Which route a request lands on depends on the request, so a verdict that depends on it
names the routes as L7 conditions (`{HTTPRoute shop/books}`, `if HTTP {...}` where the
protocol is detected, `if not HTTP` for the rest of the TCP traffic).
"""

from __future__ import annotations

from microseg.engine.mesh.linkerd_match import PortPolicy, RoutePolicy
from microseg.engine.query import MeshVerdict
from microseg.model.linkerd import ProxyProtocol

__all__ = ["NOT_HTTP", "assemble", "route_clause"]

NOT_HTTP = "if not HTTP"


def route_clause(policy: PortPolicy, route: RoutePolicy) -> str:
    """A route as an L7 condition: `if HTTP {...}` where the protocol is detected."""
    if policy.protocol is ProxyProtocol.UNKNOWN:
        return f"if HTTP {route.clause}"
    return route.clause


def assemble(
    policy: PortPolicy, server_ok: bool, routes_ok: tuple[bool, ...], probe_ok: bool
) -> MeshVerdict:
    """The verdict on one client at one port. `server_ok`: a Server-level authorization
    admits it; `routes_ok[i]`: one of `policy.routes[i]`'s own authorizations does;
    `probe_ok`: the probe route's does. Routes also carry the Server-level ones."""
    if policy.skipped:
        return MeshVerdict(True)
    if not policy.http_routes:
        return MeshVerdict(server_ok)
    if not policy.routes:
        if server_ok:
            return MeshVerdict(True)  # the default route carries the Server's authorizations
        if policy.probe is not None and probe_ok:
            return MeshVerdict(True, (route_clause(policy, policy.probe),))
        return MeshVerdict(False)
    alternatives = [
        route_clause(policy, r)
        for r, ok in zip(policy.routes, routes_ok, strict=True)
        if ok or server_ok
    ]
    if server_ok and policy.protocol is ProxyProtocol.UNKNOWN:
        alternatives.append(NOT_HTTP)
    if not alternatives:
        return MeshVerdict(False)
    return MeshVerdict(True, tuple(sorted(set(alternatives))))
