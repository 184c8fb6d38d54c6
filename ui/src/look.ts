// How the graph looks: the cytoscape stylesheet, namespace colours, edge colours by port.
import type cytoscape from "cytoscape";

// Fixed meanings first; specific ports take the palette in order of how often they occur.
export const FIXED: Record<string, string> = {
  All: "#e8590c",
  Ranges: "#f08c00",
  DNS: "#adb5bd",
};
const PALETTE = [
  "#1c7ed6", "#7048e8", "#0ca678", "#d6336c", "#1098ad", "#ae3ec9", "#5c940d", "#3b5bdb",
  "#c2255c", "#087f5b", "#862e9c", "#364fc7",
];
export const VIOLATION = "#e03131";
export const ATTEMPTED = "#a61e4d";
export const OBSERVED = "#2f9e44";

export function portColours(keys: string[]): Map<string, string> {
  const count = new Map<string, number>();
  for (const k of keys) if (!(k in FIXED)) count.set(k, (count.get(k) ?? 0) + 1);
  const order = [...count.keys()].sort((a, b) => (count.get(b)! - count.get(a)!) || a.localeCompare(b));
  const out = new Map<string, string>(Object.entries(FIXED));
  order.forEach((k, i) => out.set(k, i < PALETTE.length ? PALETTE[i] : "#868e96"));
  return out;
}

function hash(text: string): number {
  let x = 2166136261;
  for (let i = 0; i < text.length; i++) x = Math.imul(x ^ text.charCodeAt(i), 16777619);
  return x >>> 0;
}

export function namespaceTint(name: string): string {
  return `hsl(${hash(name) % 360}, 55%, 95%)`;
}
export function namespaceInk(name: string): string {
  return `hsl(${hash(name) % 360}, 45%, 42%)`;
}

export function isolationColour(ingress: string, egress: string): string {
  if (ingress === "all" && egress === "all") return "#2b8a3e";
  if (ingress === "none" && egress === "none") return "#e03131";
  return "#f08c00";
}

export const stylesheet: cytoscape.StylesheetJson = [
  {
    selector: "node",
    style: {
      "font-family": "Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif",
      "font-size": 12,
      color: "#212529",
      "text-wrap": "wrap",
      "text-valign": "center",
      "text-halign": "center",
      "min-zoomed-font-size": 6,
    },
  },
  {
    selector: "node[kind = 'workload']",
    style: {
      shape: "round-rectangle",
      width: 132,
      height: 46,
      "background-color": "#ffffff",
      "border-width": 3,
      "border-color": "data(iso)",
      label: "data(display)",
      "text-max-width": "126px",
    },
  },
  {
    selector: "node[kind = 'namespace'][!expanded]",
    style: {
      shape: "round-rectangle",
      width: 150,
      height: 64,
      "background-color": "data(tint)",
      "border-width": 3,
      "border-color": "data(iso)",
      label: "data(display)",
      "font-weight": "bold",
      color: "data(ink)",
      "text-max-width": "144px",
    },
  },
  {
    selector: "node[kind = 'namespace'][?expanded]",
    style: {
      shape: "round-rectangle",
      "background-color": "data(tint)",
      "background-opacity": 1,
      "border-width": 2,
      "border-color": "data(ink)",
      "border-opacity": 0.5,
      label: "data(label)",
      "text-valign": "top",
      "text-halign": "center",
      "text-margin-y": -4,
      "font-weight": "bold",
      "font-size": 14,
      color: "data(ink)",
      padding: "18px",
    },
  },
  {
    selector: "node[kind = 'outside']",
    style: {
      shape: "round-rectangle",
      "background-color": "#f1f3f5",
      "border-width": 1,
      "border-style": "dashed",
      "border-color": "#868e96",
      label: "data(label)",
      "text-valign": "top",
      "text-margin-y": -4,
      color: "#495057",
      "font-weight": "bold",
      padding: "14px",
    },
  },
  {
    selector: "node[kind = 'peer']",
    style: {
      shape: "ellipse",
      width: 118,
      height: 54,
      "background-color": "#ffffff",
      "border-width": 2,
      "border-color": "#495057",
      label: "data(label)",
      "text-max-width": "104px",
      "font-size": 11,
    },
  },
  { selector: "node[kind = 'peer'][name = 'external:public']", style: { "border-color": "#c92a2a", "border-width": 3 } },
  { selector: "node[?guarded][kind != 'peer']", style: { "border-style": "double", "border-width": 5 } },
  { selector: "node[diff = 'added']", style: { "background-color": "#d3f9d8", "border-color": "#2b8a3e" } },
  { selector: "node[diff = 'removed']", style: { "background-color": "#ffe3e3", "border-color": "#c92a2a", "border-style": "dashed" } },
  { selector: "node:selected", style: { "overlay-color": "#1c7ed6", "overlay-opacity": 0.18, "overlay-padding": 6 } },
  {
    selector: "edge",
    style: {
      width: 2,
      "curve-style": "bezier",
      "target-arrow-shape": "triangle",
      "arrow-scale": 0.9,
      "line-color": "data(colour)",
      "target-arrow-color": "data(colour)",
      opacity: 0.85,
      "font-size": 10,
      "text-background-color": "#ffffff",
      "text-background-opacity": 0.85,
      "text-background-padding": "2px",
      "text-rotation": "autorotate",
      color: "#343a40",
      "min-zoomed-font-size": 7,
    },
  },
  { selector: "edge[label]", style: { label: "data(label)" } },
  { selector: "edge[pairs > 1]", style: { width: "mapData(pairs, 1, 40, 2.5, 8)" } },
  { selector: "edge[?faded]", style: { opacity: 0.35 } },
  { selector: "edge[?unobserved]", style: { "line-style": "dashed", "line-dash-pattern": [6, 4], opacity: 0.55 } },
  { selector: "edge[weight > 0][layer = 'allowed']", style: { width: "mapData(weight, 1, 1000, 3, 9)", "line-style": "solid", opacity: 1 } },
  {
    selector: "edge[?violating]",
    style: {
      "line-color": VIOLATION,
      "target-arrow-color": VIOLATION,
      width: 5,
      opacity: 1,
      "z-index": 20,
      color: VIOLATION,
      "font-weight": "bold",
    },
  },
  {
    selector: "edge[layer = 'blocked']",
    style: { "line-style": "dashed", "line-dash-pattern": [10, 6], "target-arrow-shape": "tee" },
  },
  {
    selector: "edge[layer = 'attempted']",
    style: {
      "line-color": ATTEMPTED,
      "target-arrow-color": ATTEMPTED,
      "line-style": "dotted",
      "target-arrow-shape": "tee",
      width: 3,
      opacity: 1,
      "z-index": 15,
    },
  },
  { selector: "edge[layer = 'added']", style: { "line-color": "#2b8a3e", "target-arrow-color": "#2b8a3e", width: 4, opacity: 1 } },
  { selector: "edge[layer = 'removed']", style: { "line-color": "#c92a2a", "target-arrow-color": "#c92a2a", "line-style": "dashed", width: 4, opacity: 1 } },
  { selector: "edge[layer = 'changed']", style: { "line-color": "#f08c00", "target-arrow-color": "#f08c00", width: 4, opacity: 1 } },
  { selector: "edge:selected", style: { "overlay-color": "#1c7ed6", "overlay-opacity": 0.25, "overlay-padding": 5 } },
  {
    selector: "edge.haystack",
    style: {
      "curve-style": "haystack",
      "haystack-radius": 0,
      "target-arrow-shape": "none",
      "mid-target-arrow-shape": "triangle",
      "mid-target-arrow-color": "data(colour)",
      "arrow-scale": 0.6,
      width: 1.2,
      opacity: 0.22,
      label: "",
    },
  },
  { selector: "edge.haystack[?violating]", style: { width: 3, opacity: 1 } },
  { selector: "edge.haystack.focus", style: { opacity: 0.9, width: 2.5, "z-index": 50 } },
  { selector: ".hidden", style: { display: "none" } },
  { selector: ".dim", style: { opacity: 0.12 } },
  { selector: "node.hop", style: { "background-color": "data(hopColour)", label: "data(hopLabel)" } },
  { selector: "node.blast-source", style: { "background-color": "#343a40", color: "#ffffff", label: "data(hopLabel)" } },
  { selector: "edge.blast-path", style: { "line-color": "#c92a2a", "target-arrow-color": "#c92a2a", width: 5, opacity: 1, "z-index": 30 } },
  {
    selector: "edge.draft",
    style: {
      "line-style": "dashed",
      "line-color": "#495057",
      "target-arrow-color": "#495057",
      width: 3,
      label: "data(label)",
      color: "#495057",
      "z-index": 40,
    },
  },
  { selector: "edge.draft.holds", style: { "line-color": "#2b8a3e", "target-arrow-color": "#2b8a3e", color: "#2b8a3e" } },
  { selector: "edge.draft.violated", style: { "line-color": VIOLATION, "target-arrow-color": VIOLATION, color: VIOLATION } },
];

export const HOP_COLOURS = ["#343a40", "#ff8787", "#ffa94d", "#ffd43b", "#ffec99", "#fff9db"];
