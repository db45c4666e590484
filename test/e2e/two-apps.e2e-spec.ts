/**
 * Two Nest apps in one process, each with its own SessionModule (its own secret, its own engine,
 * its own database): neither sees the other's sessions, and nothing one of them set up in the
 * process decides how the other reads its data.
 */
import { Body, Controller, Get, HttpCode, Post } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { Session, SessionCodec, SessionEntity, type SessionStore } from '../../src/index.js';
import { clientHolding, Client, removeSqliteFile, startSqliteApp, tempSqliteFile } from '../support/app.js';

@Controller()
class NotesController {
  @Post('note')
  @HttpCode(200)
  write(@Session() session: SessionStore, @Body() body: { note: string }) {
    session.set('note', body.note);
    return 'ok';
  }

  @Get('note')
  read(@Session() session: SessionStore) {
    return { note: session.get('note', null) };
  }
}

const SECRET_A = 'first-app-secret-key-with-plenty-of-characters-0123456789-a';
const SECRET_B = 'second-app-secret-key-with-plenty-of-characters-0123456789-b';

describe.each(['express', 'fastify'] as const)('two apps in one process, on %s', (platform) => {
  const files = { a: tempSqliteFile('two-apps-a'), b: tempSqliteFile('two-apps-b') };
  let a: { app: INestApplication; url: string };
  let b: { app: INestApplication; url: string } | undefined;

  beforeAll(async () => {
    a = await startSqliteApp({ platform, file: files.a, session: { secretKey: SECRET_A }, controllers: [NotesController] });
    b = await startSqliteApp({ platform, file: files.b, session: { secretKey: SECRET_B, engine: 'signed_cookies' }, controllers: [NotesController] });
  });

  afterAll(async () => {
    await Promise.all([a?.app.close(), b?.app.close()]);
    await Promise.all([removeSqliteFile(files.a), removeSqliteFile(files.b)]);
  });

  it("each reads its own sessions, and neither reads the other's cookie", async () => {
    const atA = new Client(a.url);
    const atB = new Client(b!.url);
    await atA.post('/note', { note: 'kept by A' });
    await atB.post('/note', { note: 'kept by B' });
    expect((await atA.get('/note')).json()).toEqual({ note: 'kept by A' });
    expect((await atB.get('/note')).json()).toEqual({ note: 'kept by B' });
    // A's key sent to B (a signed_cookies app) is no signed session there; B's cookie is no key at A.
    expect((await clientHolding(b!.url, atA.sessionKey).get('/note')).json()).toEqual({ note: null });
    expect((await clientHolding(a.url, atB.sessionKey).get('/note')).json()).toEqual({ note: null });
  });

  it("SessionEntity.getDecoded() never decodes with another app's secret: with two apps running it asks for the codec", async () => {
    const atA = new Client(a.url);
    await atA.post('/note', { note: 'for getDecoded' });
    const row = await a.app.get<DataSource>(getDataSourceToken()).getRepository(SessionEntity).findOneByOrFail({ sessionKey: atA.sessionKey! });
    expect(() => row.getDecoded()).toThrow(/several SessionModules are running/);
    expect(row.getDecoded(new SessionCodec({ secretKey: SECRET_A }))).toEqual({ note: 'for getDecoded' });

    // Once B has stopped, A's is the only codec running, and the default again.
    await b!.app.close();
    b = undefined;
    expect(row.getDecoded()).toEqual({ note: 'for getDecoded' });
  });
});
