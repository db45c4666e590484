/**
 * Django's messages framework (django.contrib.messages, SessionStorage) and
 * `nestjs-django-session/messages` share the visitor's messages through one session, over real
 * HTTP: Django 3.2, 5.2 and 6.x (test/interop/django_site, its views in messages_views.py) and a
 * Nest app (`@Messages()`, `djangoVersion` set to the Django under test) on one SQLite file, one
 * `sessionid` carried to both. A message added on either side is shown once on the other — text,
 * level, tags, level tag, extra tags, safe flag — and is gone for both after; unread messages are
 * kept; Nest writes `_messages` byte for byte as that Django does.
 */
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Session, type DjangoVersion, type SessionStore } from '../../src/index.js';
import { Messages, type Message, type MessageStorage } from '../../src/exports/messages.js';
import { startSqliteApp } from '../support/app.js';
import { Browser } from './support/browser.js';
import { createDatabase, type Database } from './support/databases.js';
import { describeWithEachDjango } from './support/djangos.js';
import { manage, startDjango, type DjangoEnv, type Server } from './support/processes.js';

const SECRET = 'interop-messages-secret-ünïcode';

/** A message as both sides describe it (what a Django template sees of it). */
interface Described {
  message: string;
  level: number;
  tags: string;
  level_tag: string;
  extra_tags: string | null;
  safe: boolean;
}

/** What both sides' /messages/add take: Django's add_message() arguments. */
interface AddItem {
  level: number;
  message: string;
  extra_tags?: string | null;
  safe?: boolean;
}

const describeMessage = (m: Message): Described => ({ message: m.message, level: m.level, tags: m.tags, level_tag: m.levelTag, extra_tags: m.extraTags, safe: m.safe });

/** The routes of messages_views.py, on the Nest side. */
@Controller('messages')
class NestMessagesController {
  @Post('add')
  @HttpCode(200)
  add(@Messages() messages: MessageStorage, @Body() body: { add: AddItem[] }) {
    for (const item of body.add) {
      messages.add(item.level, item.message, { ...('extra_tags' in item ? { extraTags: item.extra_tags } : {}), safe: item.safe === true });
    }
    return { level: messages.level };
  }

  @Get('read')
  read(@Messages() messages: MessageStorage): Described[] {
    return messages.consume().map(describeMessage);
  }

  @Get('count')
  count(@Messages() messages: MessageStorage) {
    return { length: messages.length };
  }

  @Get('raw')
  raw(@Session() session: SessionStore<Record<string, any>>) {
    return { raw: session.get('_messages') ?? null };
  }
}

/** What each side is asked to add: a level shortcut's level with extra tags, a safe HTML text, non-ASCII text, a level of its own. */
const ADDED: AddItem[] = [
  { level: 25, message: 'Profile saved.', extra_tags: 'toast' },
  { level: 40, message: '<b>Zoë</b> could not be saved', safe: true },
  { level: 20, message: 'Zoë ✓ 日本語 😀 "quoted" \\ back' },
  { level: 35, message: 'custom level', extra_tags: 'a b' },
  { level: 10, message: 'debug: below INFO, dropped by both' },
];

describeWithEachDjango(['django'], (django) => `${django} messages (SessionStorage) and Nest's @Messages() share one session`, ({ django: python }, version) => {
  let db: Database;
  let django: Server;
  let nest: Server;
  let app: INestApplication | undefined;
  /** Django 3.2 writes empty extra tags not at all, and reads them back as None (4.1+: '' both ways). */
  const defaultTags = version.since < 401 ? null : '';

  /** What a template shows of ADDED once stored and read back, on either side. */
  const shown: Described[] = [
    { message: 'Profile saved.', level: 25, tags: 'toast success', level_tag: 'success', extra_tags: 'toast', safe: false },
    { message: '<b>Zoë</b> could not be saved', level: 40, tags: 'error', level_tag: 'error', extra_tags: defaultTags, safe: true },
    { message: 'Zoë ✓ 日本語 😀 "quoted" \\ back', level: 20, tags: 'info', level_tag: 'info', extra_tags: defaultTags, safe: false },
    { message: 'custom level', level: 35, tags: 'a b', level_tag: '', extra_tags: 'a b', safe: false },
  ];

  beforeAll(async () => {
    db = await createDatabase('sqlite', undefined, 'messages', 'shared');
    const djangoEnv: DjangoEnv = { python, dbUrl: db.url, secretKey: SECRET };
    await manage(djangoEnv, ['migrate', '--noinput', '-v', '0']);
    django = await startDjango(djangoEnv);
    const started = await startSqliteApp({
      platform: 'express',
      file: db.url.slice('sqlite://'.length),
      session: { secretKey: SECRET, djangoVersion: version.release as DjangoVersion },
      controllers: [NestMessagesController],
    });
    app = started.app;
    nest = { name: 'Nest', url: started.url, logs: () => '', stop: () => started.app.close() };
  }, 120_000);

  afterAll(async () => {
    await Promise.all([app?.close(), django?.stop()]);
    await db?.drop();
  }, 60_000);

  it('messages added by Django are shown once by Nest, with their level, tags, extra tags and safe flag; then gone for Django too', async () => {
    const browser = new Browser();
    expect((await browser.post(django, '/messages/add', { add: ADDED })).body).toEqual({ level: 20 });
    expect(browser.cookie).not.toBeNull();
    expect((await browser.get(nest, '/messages/count')).body).toEqual({ length: 4 });
    expect((await browser.get(nest, '/messages/read')).body).toEqual(shown);
    expect((await browser.get(nest, '/messages/read')).body).toEqual([]);
    expect((await browser.get(django, '/messages/read')).body).toEqual([]);
    expect((await browser.get(django, '/messages/raw')).body).toEqual({ raw: null });
  });

  it('messages added by Nest are shown once by Django with the same fields; then gone for Nest too', async () => {
    const browser = new Browser();
    expect((await browser.post(nest, '/messages/add', { add: ADDED })).body).toEqual({ level: 20 });
    expect(browser.cookie).not.toBeNull();
    expect((await browser.get(django, '/messages/count')).body).toEqual({ length: 4 });
    expect((await browser.get(django, '/messages/read')).body).toEqual(shown);
    expect((await browser.get(django, '/messages/read')).body).toEqual([]);
    expect((await browser.get(nest, '/messages/read')).body).toEqual([]);
  });

  it(`Nest writes _messages as Django ${version.release} writes it for the same messages, byte for byte`, async () => {
    const [byDjango, byNest] = [new Browser(), new Browser()];
    await byDjango.post(django, '/messages/add', { add: ADDED });
    await byNest.post(nest, '/messages/add', { add: ADDED });
    const rawByDjango = (await byDjango.get(django, '/messages/raw')).body.raw as string;
    expect(typeof rawByDjango).toBe('string');
    expect((await byNest.get(django, '/messages/raw')).body.raw).toBe(rawByDjango);
    // Read on the Nest side, what Django stored is the same text.
    expect((await byDjango.get(nest, '/messages/raw')).body.raw).toBe(rawByDjango);
    expect(rawByDjango).toContain('Zo\\u00eb \\u2713');
  });

  it('unread messages are kept across the two: added on each side, read together, once', async () => {
    const browser = new Browser();
    await browser.post(django, '/messages/add', { add: [{ level: 20, message: 'one, from Django' }] });
    await browser.get(nest, '/messages/count'); // counted, not read
    await browser.post(nest, '/messages/add', { add: [{ level: 30, message: 'two, from Nest', extra_tags: 'x' }] });
    await browser.get(django, '/messages/count');
    await browser.post(django, '/messages/add', { add: [{ level: 40, message: 'three, from Django' }] });
    const read = (await browser.get(nest, '/messages/read')).body as Described[];
    expect(read.map((m) => [m.message, m.tags])).toEqual([
      ['one, from Django', 'info'],
      ['two, from Nest', 'x warning'],
      ['three, from Django', 'error'],
    ]);
    expect((await browser.get(django, '/messages/read')).body).toEqual([]);
  });

  it('read by Nest, then a new one added by Nest: Django shows only the new one', async () => {
    const browser = new Browser();
    await browser.post(django, '/messages/add', { add: [{ level: 20, message: 'old' }] });
    expect(((await browser.get(nest, '/messages/read')).body as Described[]).map((m) => m.message)).toEqual(['old']);
    await browser.post(nest, '/messages/add', { add: [{ level: 25, message: 'new' }] });
    expect(((await browser.get(django, '/messages/read')).body as Described[]).map((m) => m.message)).toEqual(['new']);
    expect((await browser.get(nest, '/messages/read')).body).toEqual([]);
  });
});
