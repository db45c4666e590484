/**
 * Python dicts keep insertion order; JS objects list integer-like keys ("10") first. When a JSON
 * object has such keys, its order is read back from the text itself.
 */

const INTEGER_KEY = /^(?:0|[1-9]\d*)$/;

/**
 * The top-level keys of `parsed` (`JSON.parse(text)`) in the order `text` writes them, when that
 * differs from `Object.keys(parsed)` (integer-like keys); `undefined` when it does not.
 */
export function writtenKeyOrder(text: string, parsed: object): string[] | undefined {
  return Object.keys(parsed).some((k) => INTEGER_KEY.test(k)) ? topLevelKeys(text) : undefined;
}

/** The keys of the top-level object of valid JSON `text`, in the order written (first occurrence). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === '}' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 1) {
      expectKey = true;
    }
  }
  return [...new Set(keys)];
}
