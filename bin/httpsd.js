#!/usr/bin/env node
// The `httpsd` command. The TypeScript sources are compiled to dist/ by `npm run build` (run by `npm ci` via prepare).
import('../dist/cli/main.js').then(
  (cli) => cli.main(process.argv.slice(2)),
  (error) => {
    // Only a missing dist/ means "build first"; a missing dependency or a broken install says what is missing.
    const missingDist = error.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/cli/main.js');
    const fix = missingDist ? 'Run `npm run build` first.' : 'Reinstall the dependencies (`npm ci` in a clone, `npm i` in a project).';
    console.error('httpsd: cannot load dist/cli/main.js (' + error.message + '). ' + fix);
    process.exit(1);
  },
);
