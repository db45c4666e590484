/**
 * Compiles the Nest interop server (test/interop/nest/server.ts) and the library sources it
 * imports into plain ESM JavaScript, so it can run as its own node process (its own TZ). Each
 * file is transpiled alone (as ts-jest's isolatedModules does), into a fresh directory under
 * node_modules/.cache so that bare imports (`@nestjs/core`, `typeorm`) resolve from this repo.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
// test/support: the Passport pieces nest/passport-server.ts shares with the e2e suites (passport-app.ts).
const SOURCES = ['src', 'migrations', 'test/interop/nest', 'test/support'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

export interface NestBuild {
  /** The compiled server's entry point. */
  serverJs: string;
  remove(): void;
}

export function buildNestServer(): NestBuild {
  const cache = join(REPO_ROOT, 'node_modules', '.cache', 'nestjs-django-session-interop');
  mkdirSync(cache, { recursive: true });
  const outDir = mkdtempSync(join(cache, `build-${process.pid}-`));
  // Inside node_modules, Node does not look further up for "type": "module".
  writeFileSync(join(outDir, 'package.json'), '{ "type": "module" }\n');
  const compilerOptions: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    esModuleInterop: true,
    isolatedModules: true,
    sourceMap: false,
  };
  for (const dir of SOURCES) {
    for (const file of tsFiles(join(REPO_ROOT, dir))) {
      const { outputText, diagnostics } = ts.transpileModule(readFileSync(file, 'utf8'), {
        compilerOptions,
        fileName: file,
        reportDiagnostics: true,
      });
      if (diagnostics?.length) {
        throw new Error(`${file}: ${ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, '\n')}`);
      }
      const target = join(outDir, relative(REPO_ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
  }
  return {
    serverJs: join(outDir, 'test', 'interop', 'nest', 'server.js'),
    remove: () => rmSync(outDir, { recursive: true, force: true }),
  };
}
