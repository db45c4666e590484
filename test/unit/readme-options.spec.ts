/**
 * The README's options table (under its "Options" heading) against the options `SessionModule.forRoot()` takes:
 * a row for every name in `SESSION_OPTION_NAMES`, no row for a name it does not take, one row per
 * name, and, where `SESSION_DEFAULTS` holds a plain literal (a string, number, boolean, null or an
 * array of those), the row's default column starts with that literal as code (`'Lax'`, `1209600`).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SESSION_DEFAULTS, SESSION_OPTION_NAMES } from '../../src/session-options.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface OptionRow {
  name: string;
  defaultCell: string;
  line: string;
}

/** The rows of the table under the "Options" heading (`##` or `###`), up to the next heading. */
function optionRows(readme: string): OptionRow[] {
  const heading = /^#{2,3} Options\n/m.exec(readme);
  if (heading === null) throw new Error('README.md has no "## Options" section');
  const rest = readme.slice(heading.index + heading[0].length);
  const end = rest.search(/^#{1,6} /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const lines = section.split('\n').filter((line) => line.startsWith('|'));
  if (lines.length < 3) throw new Error('the "## Options" section has no table');
  // Header, separator, then one row per option. Cells are split on pipes not escaped as "\|".
  return lines.slice(2).map((line) => {
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
    const name = /^`([A-Za-z]+)`/.exec(cells[0] ?? '')?.[1];
    if (name === undefined) throw new Error(`an options row whose first cell is not an option name in code: ${line}`);
    return { name, defaultCell: cells[1] ?? '', line };
  });
}

/** A plain literal of SESSION_DEFAULTS, as JSON; undefined for an object (e.g. `cache`) or a name without a default. */
function plainDefault(name: string): string | undefined {
  if (!Object.hasOwn(SESSION_DEFAULTS, name)) return undefined;
  const value: unknown = (SESSION_DEFAULTS as Record<string, unknown>)[name];
  const plain = (v: unknown) => v === null || ['string', 'number', 'boolean'].includes(typeof v);
  if (plain(value) || (Array.isArray(value) && value.every(plain))) return JSON.stringify(value);
  return undefined;
}

/** The code span a default cell starts with, read as a JS literal (single-quoted strings allowed), as JSON. */
function statedDefault(cell: string): string | undefined {
  const code = /^`([^`]+)`/.exec(cell)?.[1];
  if (code === undefined) return undefined;
  const json = /^'[^'\\]*'$/.test(code) ? `"${code.slice(1, -1)}"` : code;
  try {
    return JSON.stringify(JSON.parse(json));
  } catch {
    return undefined;
  }
}

describe("the README's options table", () => {
  const rows = optionRows(readFileSync(join(root, 'README.md'), 'utf8'));
  const named = rows.map((row) => row.name);

  it('has a row for every option SessionModule.forRoot() takes', () => {
    expect(SESSION_OPTION_NAMES.length).toBeGreaterThan(0);
    expect(SESSION_OPTION_NAMES.filter((name) => !named.includes(name))).toEqual([]);
  });

  it('has no row for a name forRoot() does not take, and one row per option', () => {
    expect(named.filter((name) => !SESSION_OPTION_NAMES.includes(name))).toEqual([]);
    expect(named.filter((name, i) => named.indexOf(name) !== i)).toEqual([]);
  });

  it("states SESSION_DEFAULTS's value as the default where that is a plain literal", () => {
    const checked: string[] = [];
    const wrong: string[] = [];
    for (const row of rows) {
      const expected = plainDefault(row.name);
      if (expected === undefined) continue;
      checked.push(row.name);
      const stated = statedDefault(row.defaultCell);
      if (stated !== expected) wrong.push(`${row.name}: the README says ${row.defaultCell || '(nothing)'}, SESSION_DEFAULTS has ${expected}`);
    }
    expect(wrong).toEqual([]);
    // Every plain default was compared (a row missing for one fails the first test).
    expect(checked.sort()).toEqual(Object.keys(SESSION_DEFAULTS).filter((name) => plainDefault(name) !== undefined && named.includes(name)).sort());
    expect(checked.length).toBeGreaterThanOrEqual(10);
  });
});
