// Runs this stand-in's main stage: the work is in standin.py; action.yml says what it stands in for.
const { spawnSync } = require("node:child_process");
const { join } = require("node:path");
const result = spawnSync("python3", [join(__dirname, "standin.py"), "upload-pages-artifact", "main"], { stdio: "inherit" });
// Exit a moment later: act (0.2.89, on the host) may miss output written just before an exit.
setTimeout(() => process.exit(result.status ?? 1), 100);
