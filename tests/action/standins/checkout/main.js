// Runs this stand-in's main stage: the work is in standin.py; action.yml says what it stands in for.
const { spawnSync } = require("node:child_process");
const { join } = require("node:path");
const result = spawnSync("python3", [join(__dirname, "standin.py"), "checkout", "main"], { stdio: "inherit" });
process.exit(result.status ?? 1);
