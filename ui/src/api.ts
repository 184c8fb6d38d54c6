// The JSON API of microseg ui (src/microseg/ui/models.py): types and fetch helpers.

export interface NodeOut {
  id: string;
  kind: "namespace" | "workload" | "peer" | "outside";
  label: string;
  name: string;
  parent: string | null;
  namespace: string | null;
  expanded: boolean;
  workloads: number;
  pods: number;
  ingressIsolated: "all" | "some" | "none" | "n/a";
  egressIsolated: "all" | "some" | "none" | "n/a";
  guarded: boolean;
  internalEdges: number;
  labels: Record<string, string>;
  diff: "added" | "removed" | null;
  workloadKind: string;
}

export interface EdgeOut {
  id: string;
  source: string;
  target: string;
  layer: string;
  pairs: number;
  conn: string;
  conn2: string | null;
  colour: string;
  weight: number;
  intents: string[];
  verdicts: string[];
  violating: boolean;
}

export interface GraphOut {
  mode: "policy" | "diff";
  nodes: NodeOut[];
  edges: EdgeOut[];
  expanded: string[];
  truncated: boolean;
  message: string;
}

export interface Summary {
  inputs: string[];
  diffInputs: string[] | null;
  flows: string | null;
  intents: string | null;
  layer: string;
  workloads: number;
  namespaces: number;
  pods: number;
  edges: number;
  notes: string[];
  intentsHold: number;
  intentsViolated: number;
  observedKeys: number | null;
  recommend: boolean;
  recommendNote: string;
}

export interface Origin {
  file: string;
  line: number | null;
}

export interface Step {
  tier: string;
  effect: string;
  conn: string;
  label: string;
  policy: string | null;
  rule: number | null;
  origin: Origin | null;
  kind: string | null;
  detail: string | null;
}

export interface Trace {
  endpoint: string;
  external: boolean;
  isolated: boolean;
  policies: string[];
  guardrails: string[];
  allowed: string;
  steps: Step[];
}

export interface Flow {
  protocol: string;
  port: number;
  count: number;
  recorded: string[];
  allowed: boolean;
}

export interface Explanation {
  src: string;
  dst: string;
  verdict: string;
  requested: string | null;
  allowed: string;
  layer: string;
  egress: Trace;
  ingress: Trace;
  mesh: Step[];
  text: string;
  note: string;
  intents: string[];
  observed: Flow[];
}

export interface EdgePair {
  src: string;
  dst: string;
  srcEndpoint: string;
  dstEndpoint: string;
  conn: string;
  conn2: string | null;
  weight: number;
  intents: string[];
}

export interface EdgeDetail {
  total: number;
  pairs: EdgePair[];
}

export interface Policy {
  kind: string;
  name: string;
  scope: string[];
  origin: Origin;
}

export interface Workload {
  name: string;
  namespace: string;
  workloadKind: string;
  pods: number;
  labels: Record<string, string>;
  ingressIsolated: boolean;
  egressIsolated: boolean;
  guarded: boolean;
  policies: Policy[];
  serviceAccount: string;
  spiffeId: string;
  mesh: string;
  mtls: string;
  callers: string[];
  inbound: number;
  outbound: number;
  reachesPublic: boolean;
  reachableFromPublic: boolean;
}

export interface Blast {
  sources: string[];
  reachable: { workload: string; hops: number; path: string[] }[];
  namespaces: Record<string, number>;
}

export interface EndpointSpec {
  type: "workload" | "namespace" | "labels" | "group";
  workload?: string | null;
  namespace?: string | null;
  labels?: Record<string, string> | null;
  group?: string | null;
}

export interface Draft {
  kind: "allow" | "deny";
  from: EndpointSpec;
  to: EndpointSpec;
  ports: string[];
}

export interface Finding {
  id: string;
  kind: string;
  description: string;
  status: "holds" | "violated";
  origin: Origin;
  drawn: boolean;
  message: string;
  total: number;
  flows: { src: string; dst: string; conn: string }[];
  explanation: string;
  related: string[];
}

export interface Intents {
  path: string | null;
  saved: boolean;
  yaml: string;
  drafts: Draft[];
  findings: Finding[];
  holds: number;
  violated: number;
  notes: string[];
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly diagnostics: string[] = [],
  ) {
    super(message);
  }
}

const token = new URLSearchParams(location.search).get("token");

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return token ? { ...extra, "X-Microseg-Token": token } : extra;
}

async function answer<T>(res: Response): Promise<T> {
  const body = await res.json().catch(() => ({ message: res.statusText }));
  if (!res.ok) throw new ApiError(body.message ?? res.statusText, body.diagnostics ?? []);
  return body as T;
}

export async function get<T>(path: string, params: Record<string, string | string[] | undefined> = {}): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
  }
  const qs = q.toString();
  return answer<T>(await fetch(`${path}${qs ? "?" + qs : ""}`, { headers: headers() }));
}

export async function post<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, {
    method: "POST",
    headers: headers({ "Content-Type": "application/json" }),
    body: JSON.stringify(body),
  });
  return answer<T>(res);
}
