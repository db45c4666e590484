/**
 * `nestjs-django-session/messages` over real HTTP, on Express and Fastify: Django's messages
 * framework kept in the session as `SessionStorage` keeps it (`_messages`). A message added on one
 * request is shown once on a later one and is gone after; unread messages stay; the level filters
 * what is recorded; tags and the safe flag are kept; bad stored values are no messages, never a 500.
 * (The same against a real Django: test/interop/messages.spec.ts.)
 */
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Logger, Post, Query } from '@nestjs/common';
import { Session, SessionConfigError, type SessionStore } from '../../src/index.js';
import { MessageLevel, Messages, MessagesModule, messagesOf, MessageStorage, type Message } from '../../src/exports/messages.js';
import { logs, PLATFORMS, removeSqliteFile, sessionCookieOf, sqliteAppPerSuite, startSqliteApp, tempSqliteFile } from '../support/app.js';

const SECRET = 'messages-e2e-secret';

interface AddBody {
  level?: number;
  /** A shortcut's name instead of a level: 'debug', 'info', 'success', 'warning', 'error'. */
  method?: 'debug' | 'info' | 'success' | 'warning' | 'error';
  message: string;
  extraTags?: string | null;
  safe?: boolean;
}

function addOne(messages: MessageStorage, body: AddBody): boolean {
  const options = { ...(body.extraTags !== undefined ? { extraTags: body.extraTags } : {}), ...(body.safe !== undefined ? { safe: body.safe } : {}) };
  return body.method !== undefined ? messages[body.method](body.message, options) : messages.add(body.level!, body.message, options);
}

@Controller()
class MessagesController {
  /** Adds messages (`level` first sets this request's level); answers which were recorded. */
  @Post('add')
  @HttpCode(200)
  add(@Messages() messages: MessageStorage, @Body() body: { level?: number | null; add: AddBody[] }) {
    if (body.level !== undefined) messages.level = body.level;
    return { recorded: body.add.map((m) => addOne(messages, m)), level: messages.level };
  }

  /** Reads (and so consumes) the messages. */
  @Get('read')
  read(@Messages() messages: MessageStorage): Message[] {
    return messages.consume();
  }

  /** Counts them without reading (`len(storage)`): they stay. */
  @Get('count')
  count(@Messages() messages: MessageStorage) {
    return { length: messages.length };
  }

  /** Takes @Messages() and does nothing with it. */
  @Get('untouched')
  untouched(@Messages() _messages: MessageStorage) {
    return { ok: true };
  }

  /** Adds, then reads in the same request (a form re-rendered with its errors). */
  @Post('add-and-read')
  @HttpCode(200)
  addAndRead(@Messages() messages: MessageStorage, @Body() body: { add: AddBody[] }) {
    for (const m of body.add) addOne(messages, m);
    return messages.consume();
  }

  /** Reads, then adds: only the new one is kept. */
  @Post('read-then-add')
  @HttpCode(200)
  readThenAdd(@Messages() messages: MessageStorage, @Body() body: { add: AddBody[] }) {
    const read = messages.consume();
    for (const m of body.add) addOne(messages, m);
    return read;
  }

  /** Reads, then `used = false` (Django's idiom to keep them for the next request). */
  @Get('peek')
  peek(@Messages() messages: MessageStorage) {
    const read = [...messages];
    messages.used = false;
    return read;
  }

  /** @Session() and messagesOf() in one handler: the same messages as @Messages(), the raw value next to them. */
  @Post('raw')
  @HttpCode(200)
  raw(@Session() session: SessionStore<Record<string, any>>, @Body() body: { set?: unknown; other?: unknown }) {
    if ('set' in body) session.set('_messages', body.set);
    if ('other' in body) session.set('other', body.other);
    return { raw: session.has('_messages') ? session.get('_messages') : null, keys: session.keys() };
  }

  /** messagesOf(session) is the object @Messages() gives in the same request. */
  @Get('same')
  same(@Session() session: SessionStore, @Messages() messages: MessageStorage, @Query('read') read?: string) {
    return { same: messagesOf(session) === messages, read: read === undefined ? null : messagesOf(session).consume() };
  }
}

const text = (list: Message[]) => list.map((m) => m.message);

describe.each(PLATFORMS)('messages (nestjs-django-session/messages) on %s', (platform) => {
  const t = sqliteAppPerSuite(`messages-${platform}`, SECRET, (file) =>
    startSqliteApp({
      platform,
      file,
      session: { secretKey: SECRET },
      imports: [MessagesModule.forRoot({ tags: { [MessageLevel.ERROR]: 'danger', 35: 'notice' } })],
      controllers: [MessagesController],
    }),
  );

  it('a message added on one request is read once on the next, with its level, tags and safe flag, and is gone on the third', async () => {
    const client = t.client();
    const added = await client.post('/add', { add: [{ method: 'success', message: 'Profile saved.', extraTags: 'toast' }, { level: MessageLevel.ERROR, message: '<b>Zoë</b> failed', safe: true }] });
    expect(added.json()).toEqual({ recorded: [true, true], level: MessageLevel.INFO });
    expect(client.sessionKey).toMatch(/^[a-z0-9]{32}$/);

    const first = await client.get('/read');
    expect(first.json()).toEqual([
      { message: 'Profile saved.', level: 25, extraTags: 'toast', levelTag: 'success', tags: 'toast success', safe: false },
      { message: '<b>Zoë</b> failed', level: 40, extraTags: '', levelTag: 'danger', tags: 'danger', safe: true },
    ]);
    // Read: removed from the session, which is saved.
    expect(sessionCookieOf(first)).toBeDefined();
    expect(await t.dataOf(client.sessionKey)).toEqual({});

    const second = await client.get('/read');
    expect(second.json()).toEqual([]);
    // Nothing left to remove: the session is not saved again.
    expect(second.setCookies).toEqual([]);
  });

  it("stores _messages as Django's SessionStorage does: a JSON string with Python's separators and ASCII escapes", async () => {
    const client = t.client();
    await client.post('/add', { add: [{ method: 'info', message: 'Zoë "quoted" \\ 😀' }, { level: 35, message: '<i>x</i>', extraTags: 'a b', safe: true }] });
    const data = await t.dataOf(client.sessionKey);
    expect(data).toEqual({
      _messages: '[["__json_message", 0, 20, "Zo\\u00eb \\"quoted\\" \\\\ \\ud83d\\ude00", ""], ["__json_message", 1, 35, "<i>x</i>", "a b"]]',
    });
    const read = (await client.get('/read')).json() as Message[];
    expect(read.map((m) => [m.message, m.levelTag, m.tags, m.safe])).toEqual([
      ['Zoë "quoted" \\ 😀', 'info', 'info', false],
      ['<i>x</i>', 'notice', 'a b notice', true],
    ]);
  });

  it('unread messages are kept: counting them or a request that does not read them leaves them, and later ones are appended', async () => {
    const client = t.client();
    await client.post('/add', { add: [{ method: 'info', message: 'one' }] });
    expect((await client.get('/count')).json()).toEqual({ length: 1 });
    const untouched = await client.get('/untouched');
    expect(untouched.setCookies).toEqual([]); // not read, nothing added: the session is not touched
    await client.post('/add', { add: [{ method: 'warning', message: 'two' }] });
    expect((await client.get('/count')).json()).toEqual({ length: 2 });
    expect(text((await client.get('/read')).json())).toEqual(['one', 'two']);
    expect(text((await client.get('/read')).json())).toEqual([]);
  });

  it('read then added in one request: only what was added after the read is kept', async () => {
    const client = t.client();
    await client.post('/add', { add: [{ method: 'info', message: 'old' }] });
    expect(text((await client.post('/read-then-add', { add: [{ method: 'info', message: 'new' }] })).json())).toEqual(['old']);
    expect(text((await client.get('/read')).json())).toEqual(['new']);
  });

  it('added and read in one request: shown once, nothing stored', async () => {
    const client = t.client();
    await client.post('/raw', { other: 1 });
    const reply = await client.post('/add-and-read', { add: [{ method: 'error', message: 'Fix the form.' }] });
    expect(text(reply.json())).toEqual(['Fix the form.']);
    expect(await t.dataOf(client.sessionKey)).toEqual({ other: 1 });
    // A visitor without a session: no session, no cookie.
    const anonymous = t.client();
    expect(text((await anonymous.post('/add-and-read', { add: [{ method: 'info', message: 'hi' }] })).json())).toEqual(['hi']);
    expect(anonymous.sessionKey).toBeUndefined();
  });

  it('read with used = false afterwards (Django\'s idiom): kept for the next request', async () => {
    const client = t.client();
    await client.post('/add', { add: [{ method: 'info', message: 'sticky' }] });
    expect(text((await client.get('/peek')).json())).toEqual(['sticky']);
    expect(text((await client.get('/read')).json())).toEqual(['sticky']);
    expect(text((await client.get('/read')).json())).toEqual([]);
  });

  it('the level filters what is recorded: DEBUG is dropped at the default INFO; a request may lower or raise it; an empty text is dropped', async () => {
    const client = t.client();
    const dropped = await client.post('/add', { add: [{ method: 'debug', message: 'trace' }, { method: 'info', message: '' }, { method: 'info', message: 'kept' }] });
    expect(dropped.json()).toEqual({ recorded: [false, false, true], level: 20 });
    const lowered = await client.post('/add', { level: MessageLevel.DEBUG, add: [{ method: 'debug', message: 'debug now' }] });
    expect(lowered.json()).toEqual({ recorded: [true], level: 10 });
    const raised = await client.post('/add', { level: MessageLevel.WARNING, add: [{ method: 'success', message: 'no' }, { level: 31, message: 'yes' }] });
    expect(raised.json()).toEqual({ recorded: [false, true], level: 30 });
    // The level is the request's: the next one is back at INFO.
    expect((await client.post('/add', { add: [{ method: 'debug', message: 'no' }] })).json()).toEqual({ recorded: [false], level: 20 });
    const read = (await client.get('/read')).json() as Message[];
    expect(read.map((m) => [m.message, m.level, m.levelTag])).toEqual([
      ['kept', 20, 'info'],
      ['debug now', 10, 'debug'],
      ['yes', 31, ''],
    ]);
  });

  it('extra tags: null is stored as None (left out), and a level without a tag has tags = the extra tags only', async () => {
    const client = t.client();
    await client.post('/add', { add: [{ level: 99, message: 'custom', extraTags: 'mine' }, { method: 'info', message: 'none', extraTags: null }] });
    expect(await t.dataOf(client.sessionKey)).toEqual({ _messages: '[["__json_message", 0, 99, "custom", "mine"], ["__json_message", 0, 20, "none"]]' });
    const read = (await client.get('/read')).json() as Message[];
    expect(read).toEqual([
      { message: 'custom', level: 99, extraTags: 'mine', levelTag: '', tags: 'mine', safe: false },
      { message: 'none', level: 20, extraTags: null, levelTag: 'info', tags: 'info', safe: false },
    ]);
  });

  it('@Messages() and messagesOf(session) are one object per request', async () => {
    const client = t.client();
    await client.post('/add', { add: [{ method: 'info', message: 'x' }] });
    expect((await client.get('/same')).json()).toEqual({ same: true, read: null });
    expect((await client.get('/same?read')).json()).toEqual({ same: true, read: [expect.objectContaining({ message: 'x' })] });
    expect((await client.get('/read')).json()).toEqual([]);
  });

  it.each([
    ['a list, not text', ['__json_message', 0, 20, 'x']],
    ['text that is not JSON', '[["__json_message", 0, 20, "x"'],
    ['an unknown marker', '[["__not_a_message", 0, 20, "x"]]'],
    ['a message of 6 fields', '[["__json_message", 0, 20, "x", "", "extra"]]'],
    ['a level that is no integer', '[["__json_message", 0, "high", "x"]]'],
    ['a text that is a number', '[["__json_message", 0, 20, 5]]'],
    ['JSON that is an object', '{"a": 1}'],
  ])('a bad _messages (%s) is no messages and a warning, never a 500; reading replaces it', async (_label, bad) => {
    const client = t.client();
    await client.post('/raw', { set: bad });
    // The app logs nothing (logger: false): its warnings go to the capturing logger for this request.
    Logger.overrideLogger(logs);
    logs.clear();
    let count;
    try {
      count = await client.get('/count');
    } finally {
      Logger.overrideLogger(false);
    }
    expect(count.status).toBe(200);
    expect(count.json()).toEqual({ length: 0 });
    expect(logs.at('warn', 'Messages')).toEqual([expect.objectContaining({ message: expect.stringMatching(/^The session's _messages was ignored \(no messages\): /) })]);
    // What was stored is not printed (it is the visitor's).
    expect(logs.entries.map((e) => e.message).join('\n')).not.toContain('__json_message", 0');
    // Not read: left as it was.
    expect((await client.post('/raw', {})).json().raw).toEqual(bad);
    await client.post('/add', { add: [{ method: 'info', message: 'fresh' }] });
    expect(text((await client.get('/read')).json())).toEqual(['fresh']);
    expect((await client.post('/raw', {})).json().raw).toBeNull();
  });

  it('falsy _messages values (empty text, "[]") are no messages, as in Django', async () => {
    for (const empty of ['', '[]', null, 0]) {
      const client = t.client();
      await client.post('/raw', { set: empty });
      expect((await client.get('/count')).json()).toEqual({ length: 0 });
      expect((await client.get('/read')).json()).toEqual([]);
    }
  });
});

describe('messages options', () => {
  it('without MessagesModule: Django\'s defaults (INFO, the default tags); MessagesModule.forRoot({ level }) sets MESSAGE_LEVEL', async () => {
    const files = [tempSqliteFile('messages-defaults'), tempSqliteFile('messages-level')];
    const plain = await startSqliteApp({ platform: 'express', file: files[0]!, session: { secretKey: SECRET }, controllers: [MessagesController] });
    const debug = await startSqliteApp({ platform: 'express', file: files[1]!, session: { secretKey: SECRET }, imports: [MessagesModule.forRoot({ level: MessageLevel.DEBUG })], controllers: [MessagesController] });
    try {
      const post = (url: string, path: string, body: unknown, cookie?: string) =>
        fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) }, body: JSON.stringify(body) });
      const a = await post(plain.url, '/add', { add: [{ method: 'debug', message: 'd' }, { method: 'error', message: 'e' }] });
      expect(await a.json()).toEqual({ recorded: [false, true], level: 20 });
      const cookieA = a.headers.getSetCookie()[0]!.split(';')[0]!;
      const readA = await fetch(plain.url + '/read', { headers: { cookie: cookieA } });
      expect(((await readA.json()) as Message[]).map((m) => m.tags)).toEqual(['error']);

      const b = await post(debug.url, '/add', { add: [{ method: 'debug', message: 'd' }] });
      expect(await b.json()).toEqual({ recorded: [true], level: 10 });
      // messages.level = null: back to the option's level.
      expect(await (await post(debug.url, '/add', { level: null, add: [] })).json()).toEqual({ recorded: [], level: 10 });
    } finally {
      await plain.app.close();
      await debug.app.close();
      await Promise.all(files.map(removeSqliteFile));
    }
  });

  it.each([
    [{ level: 'INFO' }, /MessagesModule option "level" must be an integer level/],
    [{ level: 2.5 }, /MessagesModule option "level"/],
    [{ tags: { error: 'danger' } }, /MessagesModule option "tags" has a key that is not an integer level/],
    [{ tags: { 40: 1 } }, /MessagesModule option "tags" gives level 40 the number 1, not a string/],
    [{ levle: 10 }, /MessagesModule option "levle" is not an option/],
  ])('a bad option is a SessionConfigError naming it, thrown by forRoot(): %j', (options, message) => {
    expect(() => MessagesModule.forRoot(options as never)).toThrow(message);
    expect(() => MessagesModule.forRoot(options as never)).toThrow(SessionConfigError);
  });
});
