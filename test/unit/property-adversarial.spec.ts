/*
 * Large adversarial inputs for every reader of untrusted data: they must complete, with the
 * expected outcome. The inputs are the ones that make a super-linear reader blow up (1 MB of ':'
 * or '.', 1 MB of nesting, 100,000 cookies, regex-hostile digit runs, memo-shared DAGs, zlib bombs):
 * at 1 MB a linear reader takes milliseconds and a quadratic one minutes.
 *
 * Why no timing assertion: wall-clock limits flake on a loaded CI machine, and "linear" cannot be
 * read off one measurement anyway. What bounds them is jest's timeout (30 s, package.json). But a
 * jest timeout cannot interrupt synchronous code: a test stuck in a regex would run to the end and
 * then pass. So each case runs in a worker thread (test/unit/property-adversarial.worker.mjs),
 * against the sources transpiled once with TypeScript's transpileModule; the test only awaits the
 * worker's answer, so the timeout fires, and the worker is terminated after each test.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import ts from 'typescript';

const UNSIGNED = 'bad-signature';

/** Each case's expected outcome: a decode status, a value summary, or an error class name. */
const EXPECTED: Record<string, string | undefined> = {
  'decode: 1 MB of ":"': UNSIGNED,
  'decode: 1 MB of "."': UNSIGNED,
  'decode: 1 MB of "A" (valid base64: the legacy reader decodes it)': UNSIGNED,
  'decode: 1 MB + 1 of "A" (base64 with a bad length)': UNSIGNED,
  'decode: base64 of 768 KB of ":" (legacy: a hash and a payload made of colons)': UNSIGNED,
  'decode: 1 MB of "é"': UNSIGNED,
  'decode: a 1 MB payload with a wrong signature': UNSIGNED,
  'decode: signed, 1 MB of "["': 'malformed',
  'decode: signed and compressed, 1 MB of "["': 'malformed',
  'decode: signed, 1 MB of "{"a":" (unterminated)': 'malformed',
  'decode: signed, a 1 MB string of backslash pairs': 'ok',
  'decode: signed, a 1 MB string of escaped quotes': 'ok',
  'decode: signed, 1 MB of quotes': 'malformed',
  'decode: signed, 100,000 integer-like keys (the key-order scan)': 'ok',
  'decode: signed zlib bomb (64 MiB of zeros)': 'too-large',
  'decode: signed, 1 MB of ":" as the payload': 'malformed',
  'encode + decode: 100,000 keys and a 256 K string of lone surrogates': 'ok',
  'pickle: 1 MB of MARK': 'PickleError',
  'pickle: 512 K nested EMPTY_LIST + APPEND': 'PickleError',
  'pickle: 256 K nested dicts': 'PickleError',
  'pickle: a 1 M-item list (APPENDS)': 'array(1048576)',
  'pickle: a 1 M-item tuple (TUPLE)': 'array(1048576)',
  'pickle: 256 K SETITEMS pairs': 'object',
  'pickle: 256 K MEMOIZE': 'null',
  'pickle: 400 levels of [x, x] sharing one memo entry (2^400 leaves once expanded)': 'array(2)',
  'pickle: INT with 1 MB of digits': 'Infinity',
  'pickle: LONG with 1 MB of digits': 'Infinity',
  'pickle: GET with 1 MB of digits': 'PickleError',
  'pickle: FLOAT with 1 MB of digits': 'Infinity',
  'pickle: FLOAT with 1 MB of digits, then junk': 'PickleError',
  'pickle: FLOAT with 1 MB of digits after a point, then junk': 'PickleError',
  'pickle: FLOAT with a 1 MB exponent, then junk': 'PickleError',
  'pickle: UNICODE with 1 MB of \\u escapes': 'string(174762)',
  'pickle: UNICODE with 1 MB of backslashes': 'string(1048576)',
  'pickle: UNICODE without its newline': 'PickleError',
  'pickle: BINUNICODE of 1 MB of lone surrogates (surrogatepass)': 'string(1048576)',
  'pickle: BINUNICODE of 1 MB, invalid UTF-8 at the end': 'PickleError',
  'pickle: LONG4 announcing 2 GB': 'PickleError',
  'pickle: FRAME announcing 2^64 - 1 bytes': 'PickleError',
  'pickle: pickleDumps of a 256 K string of lone surrogates and 100,000 keys': 'object',
  'cache json: 1 MB of "["': 'TypeError',
  'cache json: an unterminated 1 MB string': 'SyntaxError',
  'cache json: 100,000 integer-like keys (the key-order scan)': 'Map(100000)',
  'cache pickle: 256 K nested lists': 'PickleError',
  'cookie: 100,000 cookies, the session one last': 'abc',
  'cookie: 100,000 session cookies': '99999',
  'cookie: 1 MB of ";"': 'undefined',
  'cookie: 1 MB of "="': 'undefined',
  'cookie: "sessionid" 100,000 times, no "="': 'undefined',
  'cookie: 1 MB of spaces around the value': 'x',
};

// The modules the worker imports (paths under src/), transpiled with everything they import
// relatively, keeping the layout so that their relative imports stay valid.
const ENTRY_POINTS = ['codec/signing.ts', 'codec/session-codec.ts', 'codec/pickle.ts', 'codec/cache-serializers.ts', 'session.http.ts'];

let dir: string;
const workers = new Set<Worker>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'property-adversarial-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const require = createRequire(import.meta.url);
  const src = new URL('../../src/', import.meta.url);
  const pending = [...ENTRY_POINTS];
  const done = new Set<string>();
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (done.has(file)) continue;
    done.add(file);
    const { outputText } = ts.transpileModule(readFileSync(new URL(file, src), 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
    });
    const resolved = outputText.replace(/(from |import\()'([^']+)'/g, (m, keyword: string, spec: string) => {
      if (spec.startsWith('.')) {
        // './signing.js' is ./signing.ts in src/.
        pending.push(posix.join(posix.dirname(file), spec.replace(/\.js$/, '.ts')));
        return m;
      }
      // Bare imports (the `cookie` package) resolved from the project, since the copy lives elsewhere.
      return spec.startsWith('node:') ? m : `${keyword}'${pathToFileURL(require.resolve(spec)).href}'`;
    });
    const out = join(dir, file.replace(/\.ts$/, '.js'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, resolved);
  }
});

afterEach(async () => {
  // Stops a case that timed out: terminate() interrupts even a running regex.
  await Promise.all([...workers].map((w) => w.terminate()));
  workers.clear();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runCase(name: string | undefined): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./property-adversarial.worker.mjs', import.meta.url), {
      workerData: { dir: pathToFileURL(dir + '/').href, name },
      resourceLimits: { maxOldGenerationSizeMb: 1024 },
    });
    workers.add(worker);
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`worker exited with code ${code} before answering`)));
  });
}

describe('large adversarial inputs complete (bounded by the jest timeout, see the header)', () => {
  it('the worker runs exactly the cases listed here', async () => {
    expect(await runCase(undefined)).toEqual(Object.keys(EXPECTED));
  });

  it.each(Object.keys(EXPECTED))('%s', async (name) => {
    expect(await runCase(name)).toBe(EXPECTED[name]);
  });
});
