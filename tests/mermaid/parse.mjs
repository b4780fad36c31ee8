// Parses Mermaid diagrams with real Mermaid (installed by scripts/setup.sh into .venv/npm).
// Reads JSON lists of diagram texts on stdin, one list per line, and answers each with one
// line: a JSON list of {ok, type|error}. One process serves a whole test session.
// NPM_DIR names the folder whose node_modules hold mermaid and jsdom.
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
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

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const results = [];
  for (const text of JSON.parse(line)) {
    try {
      const parsed = await mermaid.parse(text);
      results.push({ ok: true, type: parsed.diagramType });
    } catch (e) {
      results.push({ ok: false, error: String(e.message || e) });
    }
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
