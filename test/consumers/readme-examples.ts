/**
 * The documentation's integration examples, as the consumers test runs them: each code block of
 * README.md or docs/*.md (the integrations are in docs/integrations.md) preceded by
 * `<!-- consumer-example: <path> [<path>...] -->` is written, unchanged, to those paths (relative
 * to a consumer's `src/examples/`); every directory with a `main.ts` is a program. The programs
 * read SECRET_KEY and PORT (and PLATFORM / WS_ADAPTER where the example says so) and keep their
 * sessions in ./app.sqlite3, so each runs in a fresh working directory of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const MARKER = /^<!-- consumer-example: ([^>]+?) -->\n```ts\n([\s\S]*?)\n```$/gm;

/** `{ 'passport-express/main.ts': '<the block>' , ... }`, from the marked blocks of the documentation ({@link readReadme}). */
export function readmeExamples(readme: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const [, paths, code] of readme.matchAll(MARKER)) {
    for (const path of paths!.trim().split(/\s+/)) {
      if (files.has(path)) throw new Error(`README: two blocks for ${path}`);
      files.set(path, `${code}\n`);
    }
  }
  return files;
}

/** Writes the examples under `dir`. */
export function writeExamples(dir: string, files: Map<string, string>): void {
  for (const [path, code] of files) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), code);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RunningExample {
  url: string;
  /** The working directory: ./app.sqlite3 is `join(cwd, 'app.sqlite3')`. */
  cwd: string;
  output: () => string;
  stop(): Promise<void>;
}

/**
 * Runs `mainJs` in a fresh working directory (`prepare(cwd)` first, e.g. to put Django's auth_user
 * there) and resolves once it answers HTTP.
 */
export async function runExample(mainJs: string, env: Record<string, string>, prepare?: (cwd: string) => Promise<void>): Promise<RunningExample> {
  const cwd = mkdtempSync(join(tmpdir(), 'djs-example-'));
  await prepare?.(cwd);
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [mainJs], { cwd, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += String(d)));
  child.stderr!.on('data', (d) => (output += String(d)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(cwd, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`${mainJs} exited with ${child.exitCode}:\n${output}`);
    }
    try {
      await fetch(url);
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`${mainJs} did not answer within 30 s:\n${output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return { url, cwd, output: () => output, stop };
}

/** A cookie jar of one `sessionid`, on fetch; JSON bodies. */
export class Visitor {
  constructor(
    private readonly url: string,
    public cookie: string | null = null,
  ) {}

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; setCookie: string[] }> {
    const headers: Record<string, string> = {};
    if (this.cookie !== null) headers.cookie = `sessionid=${this.cookie}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(this.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    const setCookie = response.headers.getSetCookie().filter((c) => c.startsWith('sessionid='));
    for (const header of setCookie) {
      const value = header.slice('sessionid='.length, header.indexOf(';'));
      this.cookie = value === '' || /Max-Age=0/.test(header) ? null : value;
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body: parsed, setCookie };
  }

  get(path: string) {
    return this.request('GET', path);
  }

  post(path: string, body: unknown = {}) {
    return this.request('POST', path, body);
  }

  /** A GraphQL operation (POST /graphql). */
  graphql(query: string) {
    return this.request('POST', '/graphql', { query });
  }
}

/**
 * The documentation's files in reading order: the README, then docs/ in the order the README links
 * them. Every one must exist; any other docs/*.md follows them (sorted), so a marked block in a new
 * page is never missed.
 */
export const DOC_FILES: readonly string[] = [
  'README.md',
  'docs/usage.md',
  'docs/engines.md',
  'docs/integrations.md',
  'docs/django.md',
  'docs/security.md',
  'docs/performance.md',
];

/**
 * The documentation as one text, as the README was before it was split into docs/: README.md, then
 * each docs/*.md ({@link DOC_FILES} order), each page's title (`# Title`, its first line) read as a
 * section heading (`## Title`). So "## Integrations" up to "## One login for Django and NestJS" is
 * docs/integrations.md, and {@link readmeExamples} sees every page's marked blocks (a path written by
 * two blocks, in one page or two, is an error).
 */
export function readReadme(root: string): string {
  const others = readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
    .filter((file) => !DOC_FILES.includes(file))
    .sort();
  return [...DOC_FILES, ...others]
    .map((file) => {
      const text = readFileSync(join(root, file), 'utf8');
      if (file === 'README.md') return text;
      if (!/^# [^\n]+\n/.test(text)) throw new Error(`${file}: the first line must be the page's title ("# Title")`);
      return `#${text}`;
    })
    .join('\n');
}
