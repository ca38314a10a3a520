#!/usr/bin/env node
// The `httpsd` command. The TypeScript sources are compiled to dist/ by `npm run build` (run by `npm ci` via prepare).
import('../dist/cli/main.js').then(
  (cli) => cli.main(process.argv.slice(2)),
  (error) => {
    console.error('httpsd: cannot load dist/cli/main.js (' + error.message + '). Run `npm run build` first.');
    process.exit(1);
  },
);
