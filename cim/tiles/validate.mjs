// Validate GLB files with the Khronos glTF validator (npm gltf-validator, installed by `make install`).
//
//   node cim/tiles/validate.mjs VIEWER_NODE_MODULES FILE.glb...
//
// Prints one JSON line per file: {"file", "errors", "warnings", "infos", "messages": [first 20 issues]};
// exits 1 when any file has an error. cim.tiles.validate runs it (tests and `bench/tiles.py`).
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const [modules, ...files] = process.argv.slice(2);
if (!modules || files.length === 0) {
  console.error("usage: node validate.mjs NODE_MODULES_DIR FILE.glb...");
  process.exit(2);
}
const require = createRequire(path.join(path.resolve(modules), "noop.js"));
const validator = require("gltf-validator");
let failed = false;
for (const file of files) {
  const bytes = new Uint8Array(await readFile(file));
  const report = await validator.validateBytes(bytes, { uri: file, maxIssues: 200 });
  const issues = report.issues;
  const messages = issues.messages.slice(0, 20).map((m) => `${m.severity} ${m.code} ${m.pointer ?? ""} ${m.message}`);
  console.log(JSON.stringify({ file, errors: issues.numErrors, warnings: issues.numWarnings,
                               infos: issues.numInfos, messages }));
  failed ||= issues.numErrors > 0;
}
process.exit(failed ? 1 : 0);
