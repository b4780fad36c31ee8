// Parses Mermaid diagrams with real Mermaid (installed by scripts/setup.sh into .venv/npm).
// Reads a JSON list of diagram texts on stdin; prints a JSON list of {ok, type|error}.
// NPM_DIR names the folder whose node_modules hold mermaid and jsdom.
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(`${process.env.NPM_DIR}/`);
const { JSDOM } = require("jsdom");

const dom = new JSDOM("<!DOCTYPE html><body></body>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import(
  pathToFileURL(require.resolve("mermaid/dist/mermaid.core.mjs")).href
);
mermaid.initialize({ startOnLoad: false });

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const text of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(text);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (e) {
    results.push({ ok: false, error: String(e.message || e) });
  }
}
console.log(JSON.stringify(results));
