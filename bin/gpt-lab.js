#!/usr/bin/env node
// The headless front door: the compiled CLI lives in out/ (npm run build).
require('../out/src/cli/main.js')
  .main(process.argv)
  .catch((err) => {
    process.stderr.write(`gpt-lab: ${err && err.message ? err.message : err}\n`);
    process.exit(1);
  });
