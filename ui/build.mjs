// Bundles the page into the Python package's static folder (make ui). The output is built,
// never edited by hand; sources are here in ui/.
import { build } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";

const out = "../src/microseg/ui/static";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/main.ts"],
  bundle: true,
  minify: true,
  format: "esm",
  splitting: true,
  target: "es2020",
  outdir: out,
  entryNames: "app",
  chunkNames: "[name]-[hash]",
  legalComments: "external",
  logLevel: "warning",
});
copyFileSync("index.html", `${out}/index.html`);
copyFileSync("src/style.css", `${out}/style.css`);
