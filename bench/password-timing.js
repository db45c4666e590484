#!/usr/bin/env node
// `npm run bench:passwords`: how long verifyDjangoPassword() takes to say "no", per Django release,
// for an unknown user (the fake check), a wrong password, and a wrong password for a hash an older
// Django made (fewer PBKDF2 iterations). A login form must not tell these apart by its timing
// (user enumeration): Django closes the gap by fake-checking at its current cost and running the
// missing iterations (harden_runtime). The check fails (exit 1) when the slowest median of the three
// is more than 25% above the fastest.
//
//   node bench/password-timing.js [--versions 5.2,6.1] [--rounds 7] [--lib /abs/dist/src/index.js]
import { parseArgs } from 'node:util';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const { values: opt } = parseArgs({
  options: {
    versions: { type: 'string', default: '3.2,5.2,6.1' },
    rounds: { type: 'string', default: '7' },
    lib: { type: 'string', default: path.resolve(import.meta.dirname, '..', 'dist', 'src', 'index.js') },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log('node bench/password-timing.js [--versions 3.2,5.2,6.1] [--rounds 7] [--lib /abs/dist/src/index.js]');
  process.exit(0);
}

// The /auth entry beside the given root (a build from before the subpath entries has them in its root).
const authUrl = new URL('exports/auth.js', pathToFileURL(opt.lib).href);
const { makeDjangoPassword, verifyDjangoPassword } = await import(existsSync(fileURLToPath(authUrl)) ? authUrl.href : pathToFileURL(opt.lib).href);
const rounds = Number(opt.rounds);
/** PBKDF2PasswordHasher.iterations of each release (read off django/contrib/auth/hashers.py). */
const ITERATIONS = { '3.2': 260_000, '4.2': 600_000, '5.2': 1_000_000, '6.0': 1_200_000, '6.1': 1_500_000 };
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn) {
  const samples = [];
  for (let i = 0; i < rounds; i++) {
    const started = process.hrtime.bigint();
    await fn();
    samples.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return median(samples);
}

let failed = false;
for (const djangoVersion of opt.versions.split(',')) {
  // A hash this release makes, at its count written out (so that a build without djangoVersion,
  // run with --lib, is measured against the real thing too).
  const current = await makeDjangoPassword('the right password', { djangoVersion, iterations: ITERATIONS[djangoVersion] });
  // What Django 3.2 made (260,000 iterations): a user who has not logged in since the upgrade.
  const older = await makeDjangoPassword('the right password', { iterations: 260_000 });
  const cases = {
    'unknown user (fake check)': () => verifyDjangoPassword('a guess', '', { djangoVersion }),
    "wrong password, this release's hash": () => verifyDjangoPassword('a guess', current, { djangoVersion }),
    'wrong password, a 3.2-made hash': () => verifyDjangoPassword('a guess', older, { djangoVersion }),
  };
  const results = {};
  for (const [name, fn] of Object.entries(cases)) results[name] = await time(fn);
  const values = Object.values(results);
  const spread = Math.max(...values) / Math.min(...values);
  const ok = spread <= 1.25;
  failed ||= !ok;
  console.log(`Django ${djangoVersion}: median of ${rounds} runs`);
  for (const [name, ms] of Object.entries(results)) console.log(`  ${name.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms`);
  console.log(`  slowest / fastest: ${spread.toFixed(2)} ${ok ? '(ok, at most 1.25)' : '(FAILED: more than 1.25)'}`);
}
process.exit(failed ? 1 : 0);
