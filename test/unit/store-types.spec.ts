/**
 * Type-level tests: `SessionStore<{ fav_color: string; ... }>` narrows get/set and friends.
 *
 * The `// @ts-expect-error` lines below must each be an error, and the other lines must compile.
 * `tsc -p test/tsconfig.json --noEmit` checks that; since ts-jest only transpiles (isolatedModules),
 * the Jest test at the end also runs the TypeScript compiler on this very file, so `jest` alone
 * catches a loosened or broken narrowing too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ts from 'typescript';
import type { SessionStore } from '../../src/index.js';

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function assertType<T extends true>(_proof?: T): void {}

interface Fav {
  fav_color: string;
  visits: number;
  cart: { items: string[] };
}

/** Never called: only compiled. */
export function typedSessionChecks(session: SessionStore<Fav>, untyped: SessionStore): void {
  // get: the declared value type, `| undefined` without a default, `| D` with one.
  const color = session.get('fav_color');
  assertType<Equals<typeof color, string | undefined>>();
  const withDefault = session.get('fav_color', 'red');
  assertType<Equals<typeof withDefault, string>>();
  const orNull = session.get('visits', null);
  assertType<Equals<typeof orNull, number | null>>();
  const cart = session.get('cart');
  assertType<Equals<typeof cart, { items: string[] } | undefined>>();

  // @ts-expect-error: not a key of the session
  session.get('favourite_colour');
  // @ts-expect-error: get() of a string key is not a number
  const wrong: number = session.get('fav_color', 'red');
  void wrong;

  // set: the value must have the key's type.
  session.set('fav_color', 'blue').set('visits', 2);
  // @ts-expect-error: a number is not a colour
  session.set('fav_color', 1);
  // @ts-expect-error: a string is not a number of visits
  session.set('visits', '2');
  // @ts-expect-error: not a key of the session
  session.set('other', 'x');
  // @ts-expect-error: nested types are checked too
  session.set('cart', { items: [1] });

  // the other methods take only declared keys, and give declared types.
  session.has('fav_color');
  // @ts-expect-error: not a key of the session
  session.has('nope');
  session.delete('visits');
  // @ts-expect-error: not a key of the session
  session.delete('nope');
  const popped = session.pop('visits');
  assertType<Equals<typeof popped, number>>();
  const poppedOr = session.pop('visits', 'none' as const);
  assertType<Equals<typeof poppedOr, number | 'none'>>();
  // @ts-expect-error: not a key of the session
  session.pop('nope');
  const defaulted = session.setDefault('fav_color', 'green');
  assertType<Equals<typeof defaulted, string>>();
  // @ts-expect-error: a number is not a colour
  session.setDefault('fav_color', 3);
  session.update({ fav_color: 'red' });
  // @ts-expect-error: a number is not a colour
  session.update({ fav_color: 3 });
  // @ts-expect-error: not a key of the session
  session.update({ unknown: 1 });
  const keys = session.keys();
  assertType<Equals<typeof keys, Array<'fav_color' | 'visits' | 'cart'>>>();
  const json = session.toJSON();
  assertType<Equals<typeof json, Partial<Fav>>>();

  // read-only properties (checked before the assignments below, which would narrow the property)
  const key = session.sessionKey;
  assertType<Equals<typeof key, string | null>>();
  // @ts-expect-error: sessionKey is read-only
  session.sessionKey = 'a1b2c3d4e5f6g7h8';
  // @ts-expect-error: accessed is read-only
  session.accessed = true;
  session.modified = true;

  // setExpiry: seconds, a Date or null only
  session.setExpiry(0);
  session.setExpiry(new Date());
  session.setExpiry(null);
  // @ts-expect-error: not seconds, a Date or null
  session.setExpiry('10');

  // An untyped store takes any string key.
  untyped.set('anything', { x: 1 });
  const anything = untyped.get('anything');
  void anything;
}

/** Compiles `files` with test/tsconfig.json's options and returns the errors per file. */
function typeErrors(files: Record<string, string | null>): Map<string, string[]> {
  const configPath = resolve('test/tsconfig.json');
  const config = ts.readConfigFile(configPath, ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, dirname(configPath));
  const host = ts.createCompilerHost(parsed.options);
  const virtual = new Map(Object.entries(files).filter(([, text]) => text !== null) as Array<[string, string]>);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => virtual.has(name) || fileExists.call(host, name);
  host.readFile = (name) => virtual.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) =>
    virtual.has(name) ? ts.createSourceFile(name, virtual.get(name)!, language, true) : getSourceFile.call(host, name, language, ...rest);
  const program = ts.createProgram(Object.keys(files), { ...parsed.options, noEmit: true }, host);
  const result = new Map<string, string[]>();
  for (const name of Object.keys(files)) {
    const diagnostics = ts.getPreEmitDiagnostics(program, program.getSourceFile(name));
    result.set(
      name,
      diagnostics.map((d) => {
        const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
        return `line ${line}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      }),
    );
  }
  return result;
}

describe('SessionStore<T> narrows get/set at compile time', () => {
  const self = resolve('test/unit/store-types.spec.ts');
  const negative = resolve('test/unit/__store-types-negative.ts');

  it('this file type-checks: each @ts-expect-error line is an error, every other line compiles', () => {
    expect(existsSync(self)).toBe(true);
    // Removing a @ts-expect-error must make its line an error: the compiler really checks (control).
    const stripped = readFileSync(self, 'utf8').replace(
      '  // @ts-expect-error: a number is not a colour\n  session.set(\'fav_color\', 1);',
      "  session.set('fav_color', 1);",
    );
    expect(stripped).not.toBe(readFileSync(self, 'utf8'));
    const errors = typeErrors({ [self]: null, [negative]: stripped });
    expect(errors.get(self)).toEqual([]);
    const negativeErrors = errors.get(negative)!;
    expect(negativeErrors).toHaveLength(1);
    expect(negativeErrors[0]).toMatch(/TS2345 .*'number'.*'string'/);
  }, 60_000);
});
