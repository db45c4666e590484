/**
 * The `_messages` value of Django's SessionStorage (src/messages/message-codec.ts), case by case:
 * what Python's MessageDecoder accepts that Django itself never writes (a bool safe flag, a level
 * as text), the extra tags per Django version, and what is refused. The format against real
 * Djangos: test/interop/messages.spec.ts.
 */
import { decodeMessages, encodeMessages, pythonTruthy } from '../../src/messages/message-codec.js';

describe("SessionStorage's _messages", () => {
  const message = { level: 20, message: 'Zoë', extraTags: '', safe: false };

  it("is written with Python's default separators and ASCII escapes; empty extra tags left out for 3.2 and 4.0 only, None always", () => {
    expect(encodeMessages([message], '3.2')).toBe('[["__json_message", 0, 20, "Zo\\u00eb"]]');
    expect(encodeMessages([message], '4.0')).toBe('[["__json_message", 0, 20, "Zo\\u00eb"]]');
    expect(encodeMessages([message], '4.1')).toBe('[["__json_message", 0, 20, "Zo\\u00eb", ""]]');
    expect(encodeMessages([message], '6.1')).toBe('[["__json_message", 0, 20, "Zo\\u00eb", ""]]');
    expect(encodeMessages([{ ...message, extraTags: null, safe: true }], '5.2')).toBe('[["__json_message", 1, 20, "Zo\\u00eb"]]');
    expect(encodeMessages([], '5.2')).toBe('[]');
  });

  it('reads back what it writes', () => {
    const many = [message, { level: 40, message: '<b>"x"</b> \\ \u0000 😀', extraTags: 'a b', safe: true }];
    expect(decodeMessages(encodeMessages(many, '5.2'))).toEqual({ ok: true, messages: many });
  });

  it("reads what Python's MessageDecoder reads: any truthy safe flag, int() of the level, extra tags missing or null", () => {
    expect(decodeMessages('[["__json_message", true, "30", "a", null], ["__json_message", "", 20.9, "b"]]')).toEqual({
      ok: true,
      messages: [
        { level: 30, message: 'a', extraTags: null, safe: true },
        { level: 20, message: 'b', extraTags: null, safe: false },
      ],
    });
  });

  it('falsy values are no messages, as `messages or []`', () => {
    for (const empty of [undefined, null, '', 0, false, [], {}, '[]', '""', '0', 'null']) expect(decodeMessages(empty)).toEqual({ ok: true, messages: [] });
  });

  it('anything Django would not have written is refused with a reason, not thrown', () => {
    const cases: Array<[unknown, RegExp]> = [
      [[['__json_message', 0, 20, 'x']], /^it is a list, not the JSON text/],
      [5, /^it is a number/],
      ['[1', /^it is not valid JSON$/],
      ['{"a": 1}', /^its JSON is an object/],
      ['[["__json_message", 0, 20]]', /^item 0 has 3 fields/],
      ['[["__json_message", 0, 20, "x", "", ""]]', /^item 0 has 6 fields/],
      ['[["__json_message", 0, null, "x"]]', /^item 0 has a level that is not an integer/],
      ['[["__json_message", 0, Infinity, "x"]]', /^item 0 has a level that is not an integer/],
      ['[["__json_message", 0, 20, ["x"]]]', /^item 0 has a text that is a list/],
      ['[["__json_message", 0, 20, "x", 5]]', /^item 0 has extra tags that are a number/],
      ['[["__json_message", 0, 20, "x"], "y"]', /^item 1 is not a message/],
      ['[["other", 0, 20, "x"]]', /^item 0 is not a message/],
    ];
    for (const [value, problem] of cases) {
      const decoded = decodeMessages(value);
      expect(decoded.ok).toBe(false);
      expect(!decoded.ok && decoded.problem).toMatch(problem);
    }
  });

  it("pythonTruthy is Python's bool() of a JSON value", () => {
    expect([0, -0, '', [], {}, null, false].map(pythonTruthy)).toEqual([false, false, false, false, false, false, false]);
    expect([1, NaN, 'x', [0], { a: 0 }, true].map(pythonTruthy)).toEqual([true, true, true, true, true, true]);
  });
});
