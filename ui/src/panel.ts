// The side panel: what a click on a node or an edge tells.
import type { EdgeDetail, Explanation, Finding, Intents, Step, Trace, Workload } from "./api";
import { h } from "./dom";

function originText(o: { file: string; line: number | null } | null): string {
  return o ? (o.line !== null ? `${o.file}:${o.line}` : o.file) : "";
}

function stepRow(s: Step): HTMLElement {
  const effect = s.effect.toLowerCase();
  return h(
    "li",
    { class: `step ${effect}` },
    h("span", { class: "effect" }, s.effect),
    " ",
    h("span", { class: "conn" }, s.conn),
    " ",
    h("span", { class: "label" }, s.label),
    s.detail ? h("span", { class: "detail" }, ` ${s.detail}`) : null,
    s.origin ? h("span", { class: "origin" }, ` ${originText(s.origin)}`) : null,
  );
}

function traceBlock(title: string, t: Trace): HTMLElement {
  let head: string;
  if (t.external) head = "external address: no cluster policy applies";
  else {
    const parts = [];
    if (t.guardrails.length) parts.push(`guarded by ${t.guardrails.join(", ")}`);
    parts.push(t.isolated ? `isolated by NP ${t.policies.join(", NP ")}` : "not isolated by any NetworkPolicy");
    head = parts.join("; ");
  }
  return h(
    "section",
    { class: "trace" },
    h("h4", {}, `${title} · ${t.endpoint}`),
    h("p", { class: "muted" }, head),
    h("ul", { class: "steps" }, t.steps.map(stepRow)),
  );
}

export function explanationView(e: Explanation): HTMLElement {
  const allowed = e.verdict === "Allow";
  const what = e.requested ?? (e.allowed === "No Connections" ? "no connections" : e.allowed);
  return h(
    "div",
    { class: "explanation", id: "explanation", "data-verdict": allowed ? "allowed" : "denied" },
    h(
      "div",
      { class: `verdict ${allowed ? "ok" : "no"}` },
      h("strong", {}, allowed ? "ALLOWED" : "DENIED"),
      " ",
      h("span", {}, `${e.src} → ${e.dst}`),
      h("div", { class: "conn-line" }, what),
    ),
    e.intents.length
      ? h("div", { class: "alert" }, "Violates intent: ", e.intents.join(", "))
      : null,
    e.note ? h("p", { class: "muted" }, e.note) : null,
    h("p", { class: "muted" }, `Layer counted: ${e.layer} (network tiers, then the mesh)`),
    e.layer !== "mesh" ? traceBlock("egress", e.egress) : null,
    e.layer !== "mesh" ? traceBlock("ingress", e.ingress) : null,
    e.mesh.length
      ? h("section", { class: "trace" }, h("h4", {}, "mesh · " + e.dst), h("ul", { class: "steps" }, e.mesh.map(stepRow)))
      : null,
    e.observed.length
      ? h(
          "section",
          { class: "trace" },
          h("h4", {}, "observed flows"),
          h(
            "ul",
            { class: "steps" },
            e.observed.map((f) =>
              h(
                "li",
                { class: f.allowed ? "step allow" : "step deny" },
                `${f.protocol} ${f.port} · ${f.count} records · recorded ${f.recorded.join("/")}`,
                f.allowed ? "" : " · denied by the policies (attempted)",
              ),
            ),
          ),
        )
      : null,
    h("details", { open: "" }, h("summary", {}, "As `microseg reach` prints it"), h("pre", { id: "explain-text" }, e.text)),
  );
}

export function pairsView(
  d: EdgeDetail,
  onPick: (srcEndpoint: string, dstEndpoint: string) => void,
): HTMLElement {
  return h(
    "div",
    { id: "pairs" },
    h("p", { class: "muted" }, `${d.total} workload pair${d.total === 1 ? "" : "s"}${d.total > d.pairs.length ? ` (first ${d.pairs.length})` : ""}; pick one for the reason:`),
    h(
      "ul",
      { class: "pairs" },
      d.pairs.map((p) =>
        h(
          "li",
          {},
          h(
            "button",
            { class: "link pair", "data-src": p.src, "data-dst": p.dst, onclick: () => onPick(p.srcEndpoint, p.dstEndpoint) },
            `${p.src} → ${p.dst}`,
          ),
          h("span", { class: "muted" }, ` ${p.conn}${p.conn2 ? ` (was ${p.conn2})` : ""}${p.weight > 1 ? ` · ${p.weight}` : ""}`),
          p.intents.length ? h("span", { class: "bad" }, ` ${p.intents.join(", ")}`) : null,
        ),
      ),
    ),
  );
}

function yesNo(v: boolean, yes: string, no: string): HTMLElement {
  return h("span", { class: v ? "good" : "bad" }, v ? yes : no);
}

export function workloadView(w: Workload): HTMLElement {
  return h(
    "div",
    { id: "workload" },
    h("h3", {}, w.name),
    h(
      "table",
      { class: "facts" },
      h("tr", {}, h("th", {}, "pods"), h("td", {}, String(w.pods))),
      h("tr", {}, h("th", {}, "ingress"), h("td", {}, yesNo(w.ingressIsolated, "isolated", "open: no NetworkPolicy selects it for ingress"))),
      h("tr", {}, h("th", {}, "egress"), h("td", {}, yesNo(w.egressIsolated, "isolated", "open: no NetworkPolicy selects it for egress"))),
      h("tr", {}, h("th", {}, "guardrails"), h("td", {}, w.guarded ? "an admin or baseline policy applies" : "none")),
      h("tr", {}, h("th", {}, "edges"), h("td", {}, `${w.inbound} in, ${w.outbound} out`)),
      h("tr", {}, h("th", {}, "internet"), h("td", {}, [w.reachableFromPublic ? "public addresses reach it" : "no public address reaches it", " · ", w.reachesPublic ? "it reaches public addresses" : "it reaches no public address"].join(""))),
    ),
    h("h4", {}, "Identity"),
    h(
      "table",
      { class: "facts" },
      h("tr", {}, h("th", {}, "service account"), h("td", {}, w.serviceAccount)),
      h("tr", {}, h("th", {}, "SPIFFE ID"), h("td", {}, w.spiffeId || "-")),
      h("tr", {}, h("th", {}, "mesh"), h("td", {}, w.mesh === "none" || !w.mesh ? "outside the mesh" : `${w.mesh}, mTLS ${w.mtls}`)),
      w.callers.length ? h("tr", {}, h("th", {}, "mesh callers"), h("td", {}, w.callers.join(", "))) : null,
    ),
    h("h4", {}, `Policies (${w.policies.length})`),
    w.policies.length
      ? h(
          "ul",
          { class: "policies" },
          w.policies.map((p) =>
            h("li", {}, h("strong", {}, `${p.kind} ${p.name}`), h("span", { class: "muted" }, ` ${p.scope.join(", ")} · ${originText(p.origin)}`)),
          ),
        )
      : h("p", { class: "bad" }, "No policy selects it."),
    h("h4", {}, "Labels"),
    h("p", { class: "labels" }, Object.entries(w.labels).map(([k, v]) => h("code", {}, `${k}=${v}`))),
  );
}

export function findingRow(f: Finding): HTMLElement {
  return h(
    "li",
    { class: `finding ${f.status}`, "data-id": f.id },
    h("span", { class: "badge" }, f.status === "holds" ? "holds" : "violated"),
    " ",
    h("strong", {}, f.id),
    h("div", { class: "muted" }, `${f.description} (${originText(f.origin)})`),
    f.status === "violated" && f.message ? h("div", { class: "bad" }, f.message) : null,
    f.status === "violated" && f.flows.length
      ? h("ul", { class: "flows" }, f.flows.slice(0, 8).map((r) => h("li", {}, `${r.src} → ${r.dst} ${r.conn}`)))
      : null,
    f.explanation ? h("details", {}, h("summary", {}, "why"), h("pre", {}, f.explanation)) : null,
  );
}

export function intentsSummary(i: Intents): string {
  const n = i.holds + i.violated;
  if (!n) return "no intents yet";
  return i.violated ? `FAIL ${i.violated} of ${n} intents violated` : `PASS all ${n} intents hold`;
}
