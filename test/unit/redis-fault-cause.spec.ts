/**
 * What a Redis fault's log line says of the client's error (describeCause): its class, code and
 * message, and what it wraps — with the secrets an error may carry masked: the credentials of a
 * URL, a `password=` setting, the command's key (which holds a session key).
 */
import { describeCause } from '../../src/backends/cache/redis-client.js';

const KEY = 'app:1:django.contrib.sessions.cacheabcdefghijklmnopqrstuvwxyz012345';

describe('describeCause (the cause in a Redis fault log line)', () => {
  it('names the class, the code and the message', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' });
    expect(describeCause(error)).toBe('Error: connect ECONNREFUSED 127.0.0.1:6390');
    class ClientOfflineError extends Error {}
    expect(describeCause(new ClientOfflineError('The client is offline'))).toBe('ClientOfflineError: The client is offline');
    expect(describeCause(Object.assign(new Error(''), { code: 'ETIMEDOUT' }))).toBe('Error ETIMEDOUT');
  });

  it("tells what an AggregateError holds (Node's connect over IPv6 and IPv4) and a cause, two levels deep", () => {
    const aggregate = new AggregateError(
      [Object.assign(new Error('connect ECONNREFUSED ::1:6390'), { code: 'ECONNREFUSED' }), Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6390'), { code: 'ECONNREFUSED' })],
      '',
    );
    expect(describeCause(aggregate)).toBe('AggregateError [Error: connect ECONNREFUSED ::1:6390; Error: connect ECONNREFUSED 127.0.0.1:6390]');
    const wrapped = new Error('Socket closed unexpectedly', { cause: new Error('read ECONNRESET', { cause: new Error('deeper', { cause: new Error('deepest') }) }) });
    expect(describeCause(wrapped)).toBe('Error: Socket closed unexpectedly [Error: read ECONNRESET [Error: deeper]]');
  });

  it('masks credentials in URLs, password settings and the key; keeps host and port', () => {
    const error = new Error(`cannot reach redis://default:hunter2@cache.internal:6379/0 (password=hunter2) for GETRANGE ${KEY}`);
    const told = describeCause(error, KEY);
    expect(told).not.toContain('hunter2');
    expect(told).not.toContain('abcdefghijklmnopqrstuvwxyz012345');
    expect(told).toBe('Error: cannot reach redis://***@cache.internal:6379/0 (password=***) for GETRANGE <key>');
  });

  it('is bounded: a long message is cut, whitespace folded', () => {
    const told = describeCause(new Error(`a\n\n${'x'.repeat(1000)}`));
    expect(told.length).toBeLessThan(220);
    expect(told).toMatch(/^Error: a x+\.\.\.$/);
  });

  it('anything thrown that is not an error: its type only', () => {
    expect(describeCause('redis://u:secret@h')).toBe('string');
    expect(describeCause(undefined)).toBe('no reason given');
  });
});
