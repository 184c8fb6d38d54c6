// microseg ui: the segmentation graph. Namespaces first; a click drills into one; edges
// are coloured by what they allow (protocol/port), what was observed, what was tried and
// denied, and what violates an intent; a click on an edge asks the engine why.
import cytoscape from "cytoscape";
import svg from "cytoscape-svg";
import {
  ApiError,
  type Blast,
  type Draft,
  type EdgeDetail,
  type EdgeOut,
  type EndpointSpec,
  type Explanation,
  type GraphOut,
  type Intents,
  type NodeOut,
  type Summary,
  type Workload,
  get,
  post,
} from "./api";
import { $, clear, download, h } from "./dom";
import {
  ATTEMPTED,
  HOP_COLOURS,
  OBSERVED,
  VIOLATION,
  isolationColour,
  namespaceInk,
  namespaceTint,
  portColours,
  stylesheet,
} from "./look";
import { explanationView, findingRow, intentsSummary, pairsView, workloadView } from "./panel";


// ELK (about 1.4 MB) is loaded only when a view is small enough for the layered layout:
// large views never pay for it.
let elkReady: Promise<void> | null = null;
function loadElk(): Promise<void> {
  elkReady ??= import("cytoscape-elk").then((m) => cytoscape.use(m.default));
  return elkReady;
}
cytoscape.use(svg);

interface DrawState {
  kind: "allow" | "deny";
  from?: EndpointSpec;
  fromId?: string;
}

const ui = {
  summary: null as Summary | null,
  graph: null as GraphOut | null,
  expanded: new Set<string>(),
  all: false,
  diff: false,
  drafts: [] as Draft[],
  intents: null as Intents | null,
  draw: null as DrawState | null,
  blast: null as { source: string; data: Blast } | null,
  busy: 0,
  timings: {} as Record<string, number>,
};

const cy = cytoscape({
  container: $("cy"),
  style: stylesheet,
  wheelSensitivity: 0.25,
  minZoom: 0.05,
  maxZoom: 3,
  boxSelectionEnabled: false,
  // Large views stay responsive while panning and zooming.
  hideEdgesOnViewport: true,
  textureOnViewport: true,
});
// For tests and people who script the page: the cytoscape instance and a ready flag.
(window as unknown as { microseg: object }).microseg = {
  cy,
  state: ui,
  get ready() {
    return ui.busy === 0 && ui.graph !== null;
  },
};

function busy<T>(p: Promise<T>): Promise<T> {
  ui.busy++;
  document.body.classList.add("busy");
  return p.finally(() => {
    ui.busy--;
    if (!ui.busy) document.body.classList.remove("busy");
  });
}

function status(text: string, bad = false): void {
  const el = $("status");
  el.textContent = text;
  el.className = bad ? "bad" : "";
}

function failure(err: unknown): void {
  const e = err instanceof ApiError ? err : new ApiError(String(err));
  status(e.message, true);
  if (e.diagnostics.length) panel(h("h3", {}, "Error"), h("p", { class: "bad" }, e.message), h("pre", {}, e.diagnostics.join("\n")));
}

function panel(...children: (Node | string | null)[]): void {
  clear($("panel-body"), ...children);
  $("panel").scrollTop = 0;
}

// -- the graph --------------------------------------------------------------------------

function filters(): Record<string, string | string[] | undefined> {
  const ns = ($("f-namespace") as HTMLInputElement).value.split(",").map((s) => s.trim()).filter(Boolean);
  const label = ($("f-label") as HTMLInputElement).value.trim();
  const port = ($("f-port") as HTMLInputElement).value.trim();
  return {
    expand: ui.all ? undefined : [...ui.expanded],
    all: ui.all ? "true" : undefined,
    namespace: ns.length ? ns : undefined,
    label: label || undefined,
    port: port || undefined,
    diff: ui.diff ? "true" : undefined,
  };
}

async function loadGraph(pending?: Promise<GraphOut>): Promise<void> {
  try {
    const t0 = performance.now();
    const g = await busy(pending ?? get<GraphOut>("/api/graph", filters()));
    ui.timings.graphFetch = performance.now() - t0;
    if (g.truncated) {
      status(g.message, true);
      return;
    }
    ui.graph = g;
    if (g.nodes.length <= 90 && g.edges.length <= 600) await busy(loadElk());
    render(g);
  } catch (err) {
    failure(err);
  }
}

function nsIso(n: NodeOut): string {
  const mark = (v: string) => (v === "all" ? "●" : v === "some" ? "◐" : "○");
  return `in ${mark(n.ingressIsolated)}  out ${mark(n.egressIsolated)}`;
}

function nodeData(n: NodeOut): cytoscape.ElementDefinition {
  const data: Record<string, unknown> = { ...n, parent: n.parent ?? undefined };
  if (n.kind === "namespace") {
    data.tint = namespaceTint(n.name);
    data.ink = namespaceInk(n.name);
    data.iso = isolationColour(n.ingressIsolated, n.egressIsolated);
    const wl = `${n.workloads} workload${n.workloads === 1 ? "" : "s"}`;
    data.display = `${n.label}\n${wl}\n${nsIso(n)}`;
  } else if (n.kind === "workload") {
    data.iso = isolationColour(n.ingressIsolated, n.egressIsolated);
    data.display = `${n.label}\n${nsIso(n)}`;
  }
  return { group: "nodes", data };
}

function edgeLabel(e: EdgeOut, small: boolean): string | undefined {
  if (e.layer === "blocked") return `must reach: ${e.conn}`;
  if (e.layer === "attempted") return `denied, tried: ${e.conn}`;
  if (e.violating) return `✗ ${e.conn}`;
  if (e.layer === "changed") return `${e.conn2} → ${e.conn}`;
  if (!small || e.colour === "All" || e.colour === "DNS") return undefined;
  return e.conn.length > 28 ? e.conn.slice(0, 26) + "…" : e.conn;
}

const GROUPS = ["external:public", "external:private", "external:shared", "external:link-local", "external:special"];

// Peers are drawn twice: where traffic comes from (left) and where it goes (right), so the
// picture reads left to right. Edges from one element to every address group with the same
// connections become one edge to the whole "outside" box.
function peerSplit(g: GraphOut): { nodes: NodeOut[]; edges: EdgeOut[] } {
  const peers = new Map(g.nodes.filter((n) => n.kind === "peer").map((n) => [n.id, n]));
  const nodes: NodeOut[] = g.nodes.filter((n) => n.kind !== "peer" && n.kind !== "outside");
  const edges: EdgeOut[] = [];
  const toAll = new Map<string, EdgeOut[]>();
  for (const e of g.edges) {
    const out = peers.has(e.target), inn = peers.has(e.source);
    if (!out && !inn) { edges.push(e); continue; }
    const other = out ? e.source : e.target;
    const key = `${out ? "out" : "in"}|${other}|${e.layer}|${e.conn}|${e.violating}`;
    const peer = out ? e.target : e.source;
    if (GROUPS.includes(peer.slice(2))) toAll.set(key, [...(toAll.get(key) ?? []), e]);
    else edges.push({ ...e, source: inn ? `in|${e.source}` : e.source, target: out ? `out|${e.target}` : e.target });
  }
  for (const [key, group] of toAll) {
    const out = key.startsWith("out|");
    if (group.length === GROUPS.length) {
      const e = group[0];
      edges.push({ ...e, id: `${e.layer}:${out ? e.source : "in|any"}->${out ? "out|any" : e.target}`, source: out ? e.source : "in|any", target: out ? "out|any" : e.target, pairs: Math.max(...group.map((x) => x.pairs)) });
    } else {
      for (const e of group) edges.push({ ...e, source: out ? e.source : `in|${e.source}`, target: out ? `out|${e.target}` : e.target });
    }
  }
  const used = new Set(edges.flatMap((e) => [e.source, e.target]));
  for (const side of ["in", "out"]) {
    const box = `${side}|outside`;
    const members = [...peers.values()].filter((p) => used.has(`${side}|${p.id}`));
    const any = used.has(`${side}|any`);
    if (!members.length && !any) continue;
    const template = g.nodes.find((n) => n.kind === "outside")!;
    nodes.push({ ...template, id: box, kind: "outside", label: side === "in" ? "From outside the cluster" : "To outside the cluster", name: "outside", parent: null });
    if (any) nodes.push({ ...template, id: `${side}|any`, kind: "peer", label: "Any address", name: "any", parent: box });
    for (const p of members) nodes.push({ ...p, id: `${side}|${p.id}`, parent: box });
  }
  return { nodes, edges };
}

/** The API's name for a drawn element (peers are drawn on both sides). */
function apiId(id: string): string {
  const bare = id.replace(/^(in|out)\|/, "");
  return bare === "any" ? "outside" : bare;
}

function render(g: GraphOut): void {
  const split = peerSplit(g);
  const colours = portColours(split.edges.filter((e) => e.layer === "allowed").map((e) => e.colour));
  const small = split.edges.length <= 160;
  const observedMode = ui.summary?.flows != null;
  const els: cytoscape.ElementDefinition[] = split.nodes.map(nodeData);
  const big = split.nodes.length > 90 || split.edges.length > 600;
  for (const e of split.edges) {
    const data: Record<string, unknown> = {
      ...e,
      colour:
        e.layer === "attempted" ? ATTEMPTED : e.layer === "blocked" ? VIOLATION : colours.get(e.colour) ?? "#868e96",
      label: edgeLabel(e, small),
      unobserved: observedMode && e.layer === "allowed" && e.weight === 0,
    };
    if (data.label === undefined || big) delete data.label;
    els.push({ group: "edges", data, classes: big ? "haystack" : "" });
  }
  const t1 = performance.now();
  cy.batch(() => {
    cy.elements().remove();
    cy.add(els);
  });
  ui.timings.add = performance.now() - t1;
  addDraftEdges();
  applyLayerToggles();
  legend(colours, g);
  document.body.classList.toggle("big", big);
  const layout = big
    ? cy.layout({ name: "preset", positions: gridPositions(), fit: false } as cytoscape.LayoutOptions)
    : cy.layout({
        name: "elk",
        nodeDimensionsIncludeLabels: true,
        fit: false,
        padding: 30,
        elk: {
          algorithm: "layered",
          "elk.direction": "RIGHT",
          "elk.hierarchyHandling": "INCLUDE_CHILDREN",
          "elk.layered.spacing.nodeNodeBetweenLayers": 90,
          "elk.spacing.nodeNode": 28,
          "elk.layered.crossingMinimization.semiInteractive": true,
          "elk.padding": "[top=34,left=16,bottom=16,right=16]",
        },
      } as cytoscape.LayoutOptions);
  const t2 = performance.now();
  layout.one("layoutstop", () => {
    ui.timings.layout = performance.now() - t2;
    cy.fit(cy.nodes(), 30); // nodes only: edge bounds cost much more and add nothing here
    if (ui.blast) overlayBlast();
    // First paint of the graph, in ms since navigation started (bench/ui.py reads it).
    if (!document.body.dataset.firstPaintMs) document.body.dataset.firstPaintMs = performance.now().toFixed(0);
    document.body.dataset.rendered = String(Date.now());
  });
  layout.run();
  const s = ui.summary;
  if (s) status(`${g.nodes.filter((n) => n.kind !== "outside").length} elements, ${g.edges.length} edges shown · ${s.workloads} workloads in ${s.namespaces} namespaces`);
}

/** Large views: a layout computed in one pass, no force simulation. Namespaces (with the
 * workloads of expanded ones in rows inside) on a grid in name order, so that namespaces
 * of one team sit together; traffic from outside in a column on the left, to outside on
 * the right. Edges are then drawn straight and faint; selecting a node brings its own
 * edges forward. */
function gridPositions(): Record<string, cytoscape.Position> {
  const pos: Record<string, cytoscape.Position> = {};
  const tops = cy.nodes().filter((n) => !n.isChild() && n.data("kind") === "namespace");
  const boxes = tops.map((n: cytoscape.NodeSingular) => {
    const kids = n.children();
    const cols = Math.max(1, Math.ceil(Math.sqrt(kids.length)));
    const w = kids.length ? cols * 150 : 170;
    const hgt = kids.length ? Math.ceil(kids.length / cols) * 62 + 30 : 84;
    return { n, kids, cols, w, hgt };
  });
  const perRow = Math.max(1, Math.ceil(Math.sqrt(boxes.length * 1.6)));
  let x = 0, y = 0, rowH = 0, col = 0, width = 0;
  for (const b of boxes) {
    if (col === perRow) { col = 0; x = 0; y += rowH + 40; rowH = 0; }
    if (b.kids.length) {
      b.kids.forEach((k: cytoscape.NodeSingular, i: number) => { pos[k.id()] = { x: x + (i % b.cols) * 150 + 75, y: y + Math.floor(i / b.cols) * 62 + 50 }; });
    } else pos[b.n.id()] = { x: x + b.w / 2, y: y + b.hgt / 2 };
    x += b.w + 40; width = Math.max(width, x); rowH = Math.max(rowH, b.hgt); col++;
  }
  const height = y + rowH;
  for (const [side, px] of [["in", -260], ["out", width + 220]] as const) {
    const peers = cy.nodes().filter((n) => n.data("kind") === "peer" && n.id().startsWith(side + "|"));
    peers.forEach((n, i) => { pos[n.id()] = { x: px, y: height / 2 + (i - (peers.length - 1) / 2) * 90 }; });
  }
  return pos;
}

cy.on("select", "node", (ev) => {
  if (!document.body.classList.contains("big")) return;
  const n = ev.target as cytoscape.NodeSingular;
  const own = n.isParent() ? n.children().connectedEdges() : n.connectedEdges();
  cy.edges().removeClass("focus");
  own.addClass("focus");
});
cy.on("unselect", "node", () => cy.edges().removeClass("focus"));

function applyLayerToggles(): void {
  const on = (id: string) => ($(id) as HTMLInputElement).checked;
  cy.batch(() => {
    cy.edges().forEach((e) => {
      const d = e.data();
      let show = true;
      if (d.layer === "allowed" && !d.violating) show = on("t-allowed") || (on("t-observed") && d.weight > 0);
      if (d.layer === "allowed" && d.weight === 0 && !on("t-allowed") && !d.violating) show = false;
      if (d.layer === "attempted") show = on("t-attempted");
      if ((d.layer === "blocked" || d.violating) && !on("t-violations")) show = d.layer === "allowed" && on("t-allowed");
      e.toggleClass("hidden", !show);
    });
  });
}

function legend(colours: Map<string, string>, g: GraphOut): void {
  const used = new Set(g.edges.filter((e) => e.layer === "allowed").map((e) => e.colour));
  const swatch = (colour: string, text: string, dash = "solid") =>
    h("li", {}, h("span", { class: "swatch", style: `border-top: 4px ${dash} ${colour}` }), text);
  const items = [...colours.entries()].filter(([k]) => used.has(k)).map(([k, c]) =>
    swatch(c, k === "All" ? "all connections" : k === "Ranges" ? "port ranges" : k === "DNS" ? "DNS (53)" : k),
  );
  const special = [
    swatch(VIOLATION, "violates an intent"),
    g.edges.some((e) => e.layer === "blocked") ? swatch(VIOLATION, "intent not met (should be open)", "dashed") : null,
    ui.summary?.flows ? swatch(OBSERVED, "observed (thick); dashed: allowed, never seen") : null,
    ui.summary?.flows ? swatch(ATTEMPTED, "denied but attempted", "dotted") : null,
    g.mode === "diff" ? swatch("#2b8a3e", "added") : null,
    g.mode === "diff" ? swatch("#c92a2a", "removed", "dashed") : null,
    g.mode === "diff" ? swatch("#f08c00", "changed") : null,
  ];
  clear(
    $("legend"),
    h("h4", {}, "Allowed, by port"),
    h("ul", {}, items),
    h("ul", {}, special),
    h("h4", {}, "Isolation (NetworkPolicy)"),
    h(
      "ul",
      {},
      h("li", {}, h("span", { class: "box", style: "border-color:#2b8a3e" }), "in ● out ●  isolated both ways"),
      h("li", {}, h("span", { class: "box", style: "border-color:#f08c00" }), "one way, or some workloads"),
      h("li", {}, h("span", { class: "box", style: "border-color:#e03131" }), "open: no policy selects it"),
      h("li", {}, h("span", { class: "box double" }), "double border: admin/baseline guardrail"),
    ),
  );
}

// -- clicks -----------------------------------------------------------------------------

cy.on("tap", "node", (ev) => {
  const n = ev.target as cytoscape.NodeSingular;
  const d = n.data() as NodeOut;
  if (ui.draw) return void pickForDraft(n);
  if (d.kind === "namespace") return void namespaceClicked(d);
  if (d.kind === "workload") return void showWorkload(d.name);
  if (d.kind === "peer") {
    panel(
      h("h3", {}, d.label),
      h("p", { class: "muted" }, d.name === "{ingress-controller}"
        ? "What Ingress and Route objects expose through their Services."
        : "Addresses outside the cluster of this class (IANA special-purpose registries). Click an edge for the ranges and the rules."),
    );
  }
});

cy.on("tap", "edge", (ev) => {
  const e = ev.target as cytoscape.EdgeSingular;
  if (e.hasClass("draft")) return;
  void showEdge(e.data() as EdgeOut);
});

cy.on("tap", (ev) => {
  if (ev.target === cy && !ui.draw) showOverview();
});

function namespaceClicked(n: NodeOut): void {
  if (!n.expanded) {
    ui.expanded.add(n.name);
    void loadGraph();
  }
  panel(
    h("h3", {}, `Namespace ${n.name}`),
    h("p", {}, `${n.workloads} workloads, ${n.pods} pods; ingress isolated: ${n.ingressIsolated}, egress isolated: ${n.egressIsolated}${n.guarded ? "; guardrail policies apply" : ""}`),
    n.internalEdges ? h("p", { class: "muted" }, `${n.internalEdges} allowed edges between its own workloads`) : null,
    h("p", { class: "labels" }, Object.entries(n.labels).map(([k, v]) => h("code", {}, `${k}=${v}`))),
    h(
      "div",
      { class: "buttons" },
      h("button", { id: "collapse-ns", onclick: () => { ui.expanded.delete(n.name); ui.all = false; void loadGraph(); } }, "Collapse"),
      h("button", { id: "blast-ns", onclick: () => void toggleBlast(`${n.name}/*`) }, "Blast radius from all of it"),
    ),
  );
}

async function showWorkload(name: string): Promise<void> {
  try {
    const w = await busy(get<Workload>("/api/workload", { name }));
    const blastOn = ui.blast?.source === name;
    const target = h("input", { id: "explain-to", placeholder: "ns/name, an IP, or {ingress-controller}", list: "search-list" }) as HTMLInputElement;
    const port = h("input", { id: "explain-port", placeholder: "TCP/5432 (optional)", size: "12" }) as HTMLInputElement;
    panel(
      workloadView(w),
      h(
        "div",
        { class: "buttons" },
        h("button", { id: "blast-toggle", class: blastOn ? "on" : "", onclick: () => void toggleBlast(name) }, blastOn ? "Hide blast radius" : "Show blast radius"),
        ui.summary?.recommend
          ? h("button", { id: "recommend", onclick: () => void showRecommendation(name) }, "Recommend policy")
          : h("button", { id: "recommend", disabled: "", title: ui.summary?.recommendNote ?? "" }, "Recommend policy (needs --flows)"),
      ),
      h("h4", {}, "Why can (not) it reach…"),
      h("div", { class: "row" }, target, port, h("button", { id: "explain-go", onclick: () => void explain(name, target.value, port.value) }, "Explain")),
    );
  } catch (err) {
    failure(err);
  }
}

async function showEdge(e: EdgeOut): Promise<void> {
  const layer = e.layer === "allowed" && e.violating ? "violating" : e.layer;
  try {
    const d = await busy(
      get<EdgeDetail>("/api/edge", { source: apiId(e.source), target: apiId(e.target), layer, diff: ui.diff ? "true" : undefined }),
    );
    const head = h(
      "div",
      {},
      h("h3", {}, `${title(e.source)} → ${title(e.target)}`),
      h("p", {}, h("span", { class: "chip" }, layer), ` ${e.conn}${e.conn2 ? ` (was ${e.conn2})` : ""}`),
      e.intents.length ? h("p", { class: "bad" }, `Intents: ${e.intents.join(", ")}`) : null,
    );
    const port = e.layer === "blocked" || e.layer === "attempted" ? firstPort(e.conn) : undefined;
    if (d.pairs.length === 1 && d.total === 1) {
      panel(head);
      await explain(d.pairs[0].srcEndpoint, d.pairs[0].dstEndpoint, port, true);
    } else {
      panel(head, pairsView(d, (s, t) => void explain(s, t, port, true)));
    }
  } catch (err) {
    failure(err);
  }
}

function title(id: string): string {
  const n = cy.getElementById(id);
  if (n.nonempty() && n.data("kind") !== "workload") return n.data("label");
  return apiId(id).replace(/^\w+:/, "");
}

function firstPort(conn: string): string | undefined {
  const m = /^(TCP|UDP|SCTP) (\d+)/.exec(conn);
  return m ? `${m[1]}/${m[2]}` : undefined;
}

async function explain(src: string, dst: string, port?: string, append = false): Promise<void> {
  if (!dst.trim()) return;
  try {
    const e = await busy(get<Explanation>("/api/explain", { src, dst, port: port?.trim() || undefined }));
    const view = explanationView(e);
    const old = document.getElementById("explanation");
    if (old) old.replaceWith(view);
    else if (append) $("panel-body").append(view);
    else $("panel-body").append(view);
    view.scrollIntoView({ block: "nearest" });
  } catch (err) {
    failure(err);
  }
}

interface Recommendation {
  workload: string;
  yaml: string;
  policies: string[];
  newlyDenied: { src: string; dst: string; protocol: string; port: number; count: number; recorded: string[] }[];
  newlyDeniedTotal: number;
  newlyAllowedTotal: number;
  observedPeers: number;
  allowedPeers: number;
  notes: string[];
}

async function showRecommendation(name: string): Promise<void> {
  try {
    const r = await busy(get<Recommendation>("/api/recommend", { workload: name }));
    document.getElementById("recommendation")?.remove();
    const breaks = r.newlyDeniedTotal;
    $("panel-body").append(
      h(
        "div",
        { id: "recommendation" },
        h("h4", {}, "Recommended policy (from the observed flows)"),
        r.yaml
          ? h(
              "div",
              { class: `verdict ${breaks ? "no" : "ok"}`, "data-breaks": String(breaks) },
              breaks
                ? `It would deny ${breaks} observed flow${breaks === 1 ? "" : "s"} (simulate):`
                : "Simulated on the recorded flows: it breaks nothing.",
              breaks ? h("ul", {}, r.newlyDenied.map((f) => h("li", {}, `${f.src} → ${f.dst} ${f.protocol} ${f.port} (${f.count})`))) : null,
              h("div", { class: "muted" }, `${r.observedPeers} observed peer edges, ${r.allowedPeers} allowed by it; ${r.newlyAllowedTotal} observed flows newly allowed`),
            )
          : null,
        ...r.notes.map((n) => h("p", { class: "muted" }, n)),
        r.yaml ? h("pre", { id: "recommend-yaml" }, r.yaml) : null,
        r.yaml ? h("button", { onclick: () => download(`${name.replace(/[^a-z0-9.-]+/gi, "-")}.yaml`, new Blob([r.yaml], { type: "application/yaml" })) }, "Download YAML") : null,
      ),
    );
    document.getElementById("recommendation")?.scrollIntoView({ block: "nearest" });
  } catch (err) {
    failure(err);
  }
}

function showOverview(): void {
  const s = ui.summary;
  if (!s) return;
  panel(
    h("h3", {}, "Segmentation of " + s.inputs.join(", ")),
    h("p", {}, `${s.workloads} workloads (${s.pods} pods) in ${s.namespaces} namespaces, ${s.edges} allowed workload edges. Layer: ${s.layer}.`),
    s.intents || s.intentsHold + s.intentsViolated
      ? h("p", { class: s.intentsViolated ? "bad" : "good" }, `Intents: ${s.intentsViolated} violated, ${s.intentsHold} hold.`)
      : null,
    s.flows ? h("p", {}, `Observed flows: ${s.observedKeys} keys from ${s.flows}.`) : null,
    s.diffInputs ? h("p", {}, `Diff against ${s.diffInputs.join(", ")}: use the Diff toggle.`) : null,
    ...s.notes.map((n) => h("p", { class: "muted" }, n)),
    h("h4", {}, "How to read it"),
    h(
      "ul",
      {},
      h("li", {}, "Click a namespace to see its workloads; click it again in the panel to collapse."),
      h("li", {}, "Click an edge: the engine's reason, tier by tier, with the policy rule and file:line."),
      h("li", {}, "Click a workload: its policies, identity, and blast radius."),
      h("li", {}, "Draw intent: click a source and a destination; the page tells at once whether the policies meet it."),
    ),
  );
}

// -- blast radius -----------------------------------------------------------------------

async function toggleBlast(source: string): Promise<void> {
  if (ui.blast?.source === source) {
    ui.blast = null;
    cy.elements().removeClass("hop blast-source dim blast-path");
    const b = document.getElementById("blast-toggle");
    if (b) { b.textContent = "Show blast radius"; b.className = ""; }
    status("blast radius hidden");
    return;
  }
  try {
    const data = await busy(get<Blast>("/api/blast", { from: source }));
    ui.blast = { source, data };
    overlayBlast();
    const b = document.getElementById("blast-toggle");
    if (b) { b.textContent = "Hide blast radius"; b.className = "on"; }
    const byHops = new Map<number, number>();
    for (const r of data.reachable) byHops.set(r.hops, (byHops.get(r.hops) ?? 0) + 1);
    const parts = [...byHops.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${v} in ${k} hop${k === 1 ? "" : "s"}`);
    status(`blast radius of ${source}: ${data.reachable.length} workloads reachable (${parts.join(", ") || "none"})`);
    $("panel-body").append(
      h(
        "div",
        { id: "blast" },
        h("h4", {}, `Blast radius: ${data.reachable.length} workloads`),
        h("ol", {}, data.reachable.slice(0, 60).map((r) => h("li", {}, `${r.workload} · ${r.hops} hop${r.hops === 1 ? "" : "s"} via ${r.path.slice(1, -1).join(" → ") || "direct"}`))),
      ),
    );
  } catch (err) {
    failure(err);
  }
}

function overlayBlast(): void {
  const b = ui.blast;
  if (!b) return;
  const hops = new Map<string, number>();
  for (const s of b.data.sources) hops.set(s, 0);
  for (const r of b.data.reachable) hops.set(r.workload, r.hops);
  cy.batch(() => {
    cy.elements().removeClass("hop blast-source dim blast-path");
    cy.nodes().forEach((n) => {
      const d = n.data() as NodeOut;
      let k: number | undefined;
      if (d.kind === "workload") k = hops.get(d.name);
      else if (d.kind === "namespace" && !d.expanded) k = b.data.namespaces[d.name];
      else return;
      if (k === undefined) {
        n.addClass("dim");
        return;
      }
      n.data("hopColour", HOP_COLOURS[Math.min(k, HOP_COLOURS.length - 1)]);
      n.data("hopLabel", `${d.label}\n${k === 0 ? "compromised" : `${k} hop${k === 1 ? "" : "s"}`}`);
      n.addClass(k === 0 ? "blast-source" : "hop");
    });
    const onPath = new Set<string>();
    for (const r of b.data.reachable) {
      for (let i = 0; i + 1 < r.path.length; i++) onPath.add(`${shownId(r.path[i])}->${shownId(r.path[i + 1])}`);
    }
    cy.edges().forEach((e) => {
      const key = `${e.data("source")}->${e.data("target")}`;
      if (onPath.has(key) && e.data("layer") === "allowed") e.addClass("blast-path");
      else e.addClass("dim");
    });
  });
}

function shownId(workload: string): string {
  const ns = workload.split("/")[0];
  return cy.getElementById("w:" + workload).nonempty() ? "w:" + workload : "ns:" + ns;
}

// -- intents ----------------------------------------------------------------------------

function endpointOf(n: cytoscape.NodeSingular): EndpointSpec | null {
  const d = n.data() as NodeOut;
  if (d.kind === "workload") return { type: "workload", workload: d.name };
  if (d.kind === "namespace") return { type: "namespace", namespace: d.name };
  if (d.name === "external:public" || d.id === "in|any") return { type: "group", group: "internet" };
  return null;
}

function endpointText(e: EndpointSpec): string {
  if (e.type === "workload") return e.workload ?? "";
  if (e.type === "namespace") return `namespace ${e.namespace}`;
  if (e.type === "labels") return `${e.namespace ? e.namespace + ": " : ""}${Object.entries(e.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(",")}`;
  return e.group ?? "";
}

function elementOf(e: EndpointSpec): string | null {
  const id =
    e.type === "workload" ? "w:" + e.workload : e.type === "namespace" ? "ns:" + e.namespace : e.group === "internet" ? "in|p:external:public" : null;
  if (!id) return null;
  if (cy.getElementById(id).nonempty()) return id;
  if (e.group === "internet" && cy.getElementById("in|any").nonempty()) return "in|any";
  if (e.type === "workload" && e.workload) {
    const byName = cy.nodes().filter((n) => n.data("kind") === "workload" && n.data("name").startsWith(e.workload + "["));
    if (byName.nonempty()) return byName.first().id();
    const ns = "ns:" + e.workload.split("/")[0];
    return cy.getElementById(ns).nonempty() ? ns : null;
  }
  return null;
}

function draftIds(): string[] {
  const count = { allow: 0, deny: 0 };
  return ui.drafts.map((d) => `drawn-in-ui/${d.kind}[${count[d.kind]++}]`);
}

function addDraftEdges(): void {
  cy.edges(".draft").remove();
  const ids = draftIds();
  const status = new Map((ui.intents?.findings ?? []).map((f) => [f.id, f.status]));
  ui.drafts.forEach((d, i) => {
    const s = elementOf(d.from), t = elementOf(d.to);
    if (!s || !t || s === t) return;
    const verdict = status.get(ids[i]);
    cy.add({
      group: "edges",
      data: {
        id: `draft:${i}`,
        source: s,
        target: t,
        label: `${d.kind === "allow" ? "must reach" : "must not reach"}${d.ports.length ? " " + d.ports.join(" ") : ""}${verdict ? ` · ${verdict}` : ""}`,
      },
      classes: `draft ${verdict ?? ""}`,
    });
  });
}

function startDraw(): void {
  ui.draw = { kind: ($("d-kind") as HTMLSelectElement).value as "allow" | "deny" };
  document.body.classList.add("drawing");
  showIntents();
  status("Draw intent: click the source (a workload, a namespace, or the internet)");
}

function stopDraw(): void {
  ui.draw = null;
  document.body.classList.remove("drawing");
}

function pickForDraft(n: cytoscape.NodeSingular): void {
  const draw = ui.draw;
  if (!draw) return;
  const ep = endpointOf(n);
  if (!ep) {
    status("an intent's end is a workload, a namespace, or the internet", true);
    return;
  }
  if (!draw.from) {
    draw.from = ep;
    draw.fromId = n.id();
    status(`from ${endpointText(ep)}: now click the destination`);
    return;
  }
  const ports = ($("d-ports") as HTMLInputElement).value.split(/[\s,]+/).filter(Boolean);
  ui.drafts.push({ kind: draw.kind, from: draw.from, to: ep, ports });
  stopDraw();
  void checkIntents(ui.drafts.length - 1);
}

function addLabelDraft(): void {
  const parse = (text: string): EndpointSpec | null => {
    const t = text.trim();
    if (!t) return null;
    if (t === "internet" || t === "cluster" || t === "kube-dns") return { type: "group", group: t };
    const [nsPart, labelPart] = t.includes(":") ? t.split(":", 2) : ["", t];
    if (!labelPart.includes("=")) return t.includes("/") ? { type: "workload", workload: t } : { type: "namespace", namespace: t };
    const labels: Record<string, string> = {};
    for (const kv of labelPart.split(",")) {
      const [k, v] = kv.split("=", 2);
      if (k?.trim()) labels[k.trim()] = (v ?? "").trim();
    }
    return { type: "labels", namespace: nsPart.trim() || null, labels };
  };
  const from = parse(($("d-from") as HTMLInputElement).value);
  const to = parse(($("d-to") as HTMLInputElement).value);
  if (!from || !to) {
    status("give both ends: ns/name, a namespace, labels such as shop:app=postgres, or internet", true);
    return;
  }
  const ports = ($("d-ports") as HTMLInputElement).value.split(/[\s,]+/).filter(Boolean);
  ui.drafts.push({ kind: ($("d-kind") as HTMLSelectElement).value as "allow" | "deny", from, to, ports });
  void checkIntents(ui.drafts.length - 1);
}

async function checkIntents(focus?: number): Promise<void> {
  try {
    ui.intents = await busy(post<Intents>("/api/intents/check", { intents: ui.drafts }));
    addDraftEdges();
    showIntents(focus);
    await loadGraph();
  } catch (err) {
    if (focus !== undefined) ui.drafts.splice(focus, 1);
    failure(err);
  }
}

async function saveIntents(): Promise<void> {
  try {
    ui.intents = await busy(post<Intents>("/api/intents/save", { intents: ui.drafts }));
    ui.drafts = ui.intents.drafts;
    status(`saved ${ui.intents.path}: ${intentsSummary(ui.intents)}`);
    showIntents();
  } catch (err) {
    failure(err);
  }
}

function showIntents(focus?: number): void {
  const i = ui.intents;
  const ids = draftIds();
  const findings = i?.findings ?? [];
  const verdict =
    focus !== undefined ? findings.find((f) => f.id === ids[focus]) : undefined;
  panel(
    h("h3", {}, "Intents"),
    h("p", { id: "intents-summary", class: i && i.violated ? "bad" : "good" }, i ? intentsSummary(i) : "…"),
    verdict
      ? h(
          "div",
          { id: "draft-verdict", class: `verdict ${verdict.status === "holds" ? "ok" : "no"}`, "data-status": verdict.status },
          h("strong", {}, verdict.status === "holds" ? "HOLDS" : "VIOLATED"),
          ` ${verdict.description}`,
          verdict.message ? h("div", {}, verdict.message) : null,
          verdict.explanation ? h("pre", { id: "draft-explanation" }, verdict.explanation) : null,
        )
      : null,
    ui.draw ? h("p", { class: "alert" }, ui.draw.from ? `From ${endpointText(ui.draw.from)}: click the destination.` : "Click the source on the graph.") : null,
    h("h4", {}, "Drawn here"),
    ui.drafts.length
      ? h(
          "ul",
          { id: "drafts" },
          ui.drafts.map((d, k) =>
            h(
              "li",
              {},
              `${d.kind === "allow" ? "allow" : "deny"} ${endpointText(d.from)} → ${endpointText(d.to)}${d.ports.length ? " on " + d.ports.join(" ") : ""} `,
              h("button", { class: "link", onclick: () => { ui.drafts.splice(k, 1); void checkIntents(); } }, "remove"),
            ),
          ),
        )
      : h("p", { class: "muted" }, "None yet: use Draw intent, or the form below."),
    h(
      "div",
      { class: "buttons" },
      h("button", { id: "save-intents", onclick: () => void saveIntents(), ...(i?.path ? {} : { disabled: "", title: "start microseg ui with --intents FILE to save" }) }, i?.path ? `Save to ${i.path}` : "Save (needs --intents)"),
      h("button", { id: "download-intents", onclick: () => i && download("intents.yaml", new Blob([i.yaml], { type: "application/yaml" })) }, "Download YAML"),
    ),
    h("h4", {}, "All intents"),
    h("ul", { class: "findings" }, findings.map(findingRow)),
    i?.yaml ? h("details", {}, h("summary", {}, "The YAML that is saved"), h("pre", { id: "intents-yaml" }, i.yaml)) : null,
  );
}

// -- export ---------------------------------------------------------------------------

function exportPng(): void {
  const blob = cy.png({ output: "blob", full: true, scale: 2, bg: "#ffffff" }) as unknown as Blob;
  download("microseg-graph.png", blob);
}

function exportSvg(): void {
  const text = (cy as unknown as { svg: (o: object) => string }).svg({ full: true, scale: 1, bg: "#ffffff" });
  download("microseg-graph.svg", new Blob([text], { type: "image/svg+xml" }));
}

// -- wiring ---------------------------------------------------------------------------

async function search(): Promise<void> {
  const q = ($("search") as HTMLInputElement).value.trim();
  if (!q) return;
  try {
    const r = await get<{ workloads: string[]; namespaces: string[] }>("/api/search", { q });
    const list = $("search-list");
    clear(list, [...r.namespaces, ...r.workloads].map((v) => h("option", { value: v })));
    const exact = r.workloads.find((w) => w === q || w.startsWith(q + "[")) ?? (r.workloads.length === 1 ? r.workloads[0] : undefined);
    if (exact) {
      const ns = exact.split("/")[0];
      if (!ui.expanded.has(ns)) {
        ui.expanded.add(ns);
        await loadGraph();
      }
      const n = cy.getElementById("w:" + exact);
      if (n.nonempty()) {
        cy.elements().unselect();
        n.select();
        cy.animate({ center: { eles: n }, zoom: Math.max(cy.zoom(), 1) }, { duration: 300 });
      }
      void showWorkload(exact);
    } else if (r.namespaces.includes(q)) {
      ui.expanded.add(q);
      await loadGraph();
    } else {
      status(`${r.workloads.length} workloads match "${q}"`);
    }
  } catch (err) {
    failure(err);
  }
}

function wire(): void {
  $("search").addEventListener("keydown", (ev) => { if ((ev as KeyboardEvent).key === "Enter") void search(); });
  $("search").addEventListener("change", () => void search());
  $("apply-filters").addEventListener("click", () => void loadGraph());
  for (const id of ["f-namespace", "f-label", "f-port"]) {
    $(id).addEventListener("keydown", (ev) => { if ((ev as KeyboardEvent).key === "Enter") void loadGraph(); });
  }
  for (const id of ["t-allowed", "t-observed", "t-attempted", "t-violations"]) $(id).addEventListener("change", applyLayerToggles);
  $("expand-all").addEventListener("click", () => { ui.all = true; void loadGraph(); });
  $("collapse-all").addEventListener("click", () => { ui.all = false; ui.expanded.clear(); void loadGraph(); });
  $("fit").addEventListener("click", () => cy.fit(undefined, 30));
  $("export-png").addEventListener("click", exportPng);
  $("export-svg").addEventListener("click", exportSvg);
  $("show-intents").addEventListener("click", () => showIntents());
  $("draw-intent").addEventListener("click", startDraw);
  $("add-label-intent").addEventListener("click", addLabelDraft);
  $("cancel-draw").addEventListener("click", () => { stopDraw(); status("drawing cancelled"); });
  const diff = $("diff-toggle") as HTMLInputElement;
  diff.addEventListener("change", () => { ui.diff = diff.checked; void loadGraph(); });
  document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && ui.draw) { stopDraw(); status("drawing cancelled"); } });
}

async function main(): Promise<void> {
  wire();
  try {
    // The three answers the first paint needs, asked at once.
    const graph = get<GraphOut>("/api/graph", filters());
    const intents = get<Intents>("/api/intents");
    const s = await busy(get<Summary>("/api/summary"));
    ui.summary = s;
    $("inputs").textContent = s.inputs.join(", ") + (s.diffInputs ? `  ⇄  ${s.diffInputs.join(", ")}` : "");
    clear(
      $("chips"),
      h("span", { class: "chip" }, `${s.workloads} workloads`),
      h("span", { class: "chip" }, `${s.namespaces} namespaces`),
      h("span", { class: "chip" }, `${s.edges} edges`),
      s.intentsHold + s.intentsViolated ? h("span", { class: `chip ${s.intentsViolated ? "bad" : "good"}`, id: "chip-intents" }, `${s.intentsViolated} intent${s.intentsViolated === 1 ? "" : "s"} violated`) : null,
      s.flows ? h("span", { class: "chip" }, `${s.observedKeys} flow keys`) : null,
    );
    ($("diff-toggle") as HTMLInputElement).disabled = !s.diffInputs;
    $("diff-label").title = s.diffInputs ? `compare with ${s.diffInputs.join(", ")}` : "start with --diff PATH";
    for (const id of ["t-observed", "t-attempted"]) ($(id) as HTMLInputElement).disabled = !s.flows;
    ui.intents = await busy(intents);
    ui.drafts = ui.intents.drafts;
    showOverview();
    await loadGraph(graph);
  } catch (err) {
    failure(err);
  }
}

void main();
