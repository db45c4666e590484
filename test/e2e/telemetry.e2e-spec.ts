/**
 * OpenTelemetry over real HTTP on real engines, recorded by the real SDK's in-memory exporters: a
 * span per session store operation (`django_session.<operation>`, the engine, the outcome) and
 * the metrics (loads, creates, saves, errors, 503s, durations). Without `SessionTelemetryModule`
 * the engine is not wrapped at all; with it and no SDK registered, the API's no-op records nothing
 * and the app works.
 */
import { types } from 'node:util';
import { Body, Controller, Get, Post } from '@nestjs/common';
import { metrics, trace } from '@opentelemetry/api';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type DataPoint, type Histogram } from '@opentelemetry/sdk-metrics';
import { Session, SessionBackend, SessionService, type SessionStore } from '../../src/index.js';
import { SESSION_TELEMETRY_NAMES, SessionTelemetryModule } from '../../src/exports/telemetry.js';
import { Client, startApp, TEST_SECRET, type TestApp } from '../support/app.js';
import { describeWith } from '../support/env.js';
import { createClient } from 'redis';
import { privateRedisServer, type PrivateRedis } from '../support/redis.js';

@Controller()
class TelemetryController {
  constructor(private readonly sessions: SessionService) {}

  @Post('set')
  set(@Session() session: SessionStore<{ v: string }>, @Body('v') v: string) {
    session.set('v', v);
    return { ok: true };
  }

  @Get('get')
  get(@Session() session: SessionStore<{ v: string }>) {
    return { v: session.get('v', null) };
  }

  @Post('flush')
  async flush(@Session() session: SessionStore) {
    await session.flush();
    return { ok: true };
  }

  @Post('sweep')
  async sweep() {
    return { swept: await this.sessions.clearExpired() };
  }
}

/** The real SDK, exporting to memory. */
function sdk() {
  const spans = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    tracerProvider,
    meterProvider,
    spans: (): ReadableSpan[] => spans.getFinishedSpans(),
    resetSpans: () => spans.reset(),
    /** The data points of metric `name`, after a flush. */
    async points(name: string): Promise<Array<DataPoint<number | Histogram>>> {
      await reader.forceFlush();
      const last = exporter.getMetrics().at(-1);
      return (last?.scopeMetrics ?? [])
        .filter((scope) => scope.scope.name === 'nestjs-django-session')
        .flatMap((scope) => scope.metrics)
        .filter((metric) => metric.descriptor.name === name)
        .flatMap((metric) => metric.dataPoints as Array<DataPoint<number | Histogram>>);
    },
    async shutdown() {
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

/** Each span as `name outcome` (engine checked separately). */
const summary = (spans: ReadableSpan[]) => spans.map((s) => `${s.name} ${String(s.attributes['django_session.outcome'])}`);

/** The value of the counter point whose attributes include `attributes`. */
function count(points: Array<DataPoint<number | Histogram>>, attributes: Record<string, string>): number {
  return points
    .filter((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + (typeof p.value === 'number' ? p.value : p.value.count), 0);
}

describe('SessionTelemetryModule on the db engine (sqlite), the SDK given to forRoot()', () => {
  const otel = sdk();
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      platform: 'express',
      imports: [SessionTelemetryModule.forRoot({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider })],
      controllers: [TelemetryController],
    });
  });
  afterAll(async () => {
    await t?.close();
    await otel.shutdown();
  });

  it('a span per store operation, named, with the engine and the outcome; the counters and the duration histogram', async () => {
    const browser = t.client();
    otel.resetSpans();
    await browser.post('/set', { v: 'x' }); // no cookie: no load; a create
    await browser.get('/get'); // load: hit
    await browser.post('/set', { v: 'y' }); // load: hit; save
    await new Client(t.url).get('/get', { cookie: `sessionid=${'a'.repeat(32)}` }); // load: miss
    await browser.post('/flush'); // load: hit; delete
    await browser.post('/sweep'); // clearExpired
    expect(summary(otel.spans())).toEqual([
      'django_session.create created',
      'django_session.load hit',
      'django_session.load hit',
      'django_session.save saved',
      'django_session.load miss',
      'django_session.load hit',
      'django_session.delete deleted',
      'django_session.clearExpired ok',
    ]);
    for (const span of otel.spans()) {
      expect(span.attributes['django_session.engine']).toBe('db');
      expect(span.attributes['django_session.operation']).toBe(span.name.slice('django_session.'.length));
      expect(span.instrumentationScope.name).toBe('nestjs-django-session');
    }
    // No span carries the session key.
    expect(JSON.stringify(otel.spans().map((s) => s.attributes))).not.toMatch(/[a-z0-9]{32}/);

    const loads = await otel.points(SESSION_TELEMETRY_NAMES.loads);
    expect(count(loads, { 'django_session.outcome': 'hit', 'django_session.engine': 'db' })).toBe(3);
    expect(count(loads, { 'django_session.outcome': 'miss' })).toBe(1);
    expect(count(await otel.points(SESSION_TELEMETRY_NAMES.creates), { 'django_session.outcome': 'created' })).toBe(1);
    expect(count(await otel.points(SESSION_TELEMETRY_NAMES.saves), { 'django_session.outcome': 'saved' })).toBe(1);
    const durations = await otel.points(SESSION_TELEMETRY_NAMES.duration);
    expect(count(durations, { 'django_session.operation': 'load' })).toBe(4);
    expect(count(durations, {})).toBe(8);
    expect(await otel.points(SESSION_TELEMETRY_NAMES.errors)).toEqual([]);
  });

  it('every other method of the engine is recorded too (ping, exists), its own calls to itself are not, and the engine stays itself', async () => {
    const backend = t.app.get(SessionBackend);
    expect(types.isProxy(backend)).toBe(true);
    expect(backend).toBeInstanceOf(SessionBackend);
    expect(backend.engineName).toBe('db');
    expect(backend.constructor.name).toBe('TypeOrmSessionBackend');
    otel.resetSpans();
    await backend.ping();
    expect(await backend.exists('b'.repeat(32))).toBe(false);
    expect(backend.isValidKey('b'.repeat(32))).toBe(true); // not an operation: no span
    expect(summary(otel.spans())).toEqual(['django_session.ping ok', 'django_session.exists miss']);
  });
});

describe('SessionTelemetryModule with the globally registered SDK', () => {
  const otel = sdk();
  let t: TestApp;
  beforeAll(async () => {
    trace.setGlobalTracerProvider(otel.tracerProvider);
    metrics.setGlobalMeterProvider(otel.meterProvider);
    t = await startApp({ platform: 'fastify', imports: [SessionTelemetryModule.forRoot()], controllers: [TelemetryController] });
  });
  afterAll(async () => {
    await t?.close();
    await otel.shutdown();
    trace.disable();
    metrics.disable();
  });

  it('records through trace.getTracer() and metrics.getMeter()', async () => {
    otel.resetSpans();
    const browser = t.client();
    await browser.post('/set', { v: 'x' });
    await browser.get('/get');
    expect(summary(otel.spans())).toEqual(['django_session.create created', 'django_session.load hit']);
    expect(count(await otel.points(SESSION_TELEMETRY_NAMES.loads), { 'django_session.outcome': 'hit' })).toBe(1);
  });
});

describe('without an SDK, and without the module', () => {
  it('no SDK: the API is a no-op, the app works, the engine is wrapped', async () => {
    const t = await startApp({ platform: 'express', imports: [SessionTelemetryModule.forRoot()], controllers: [TelemetryController] });
    try {
      expect(types.isProxy(t.app.get(SessionBackend))).toBe(true);
      const browser = t.client();
      await browser.post('/set', { v: 'x' });
      expect((await browser.get('/get')).json()).toEqual({ v: 'x' });
    } finally {
      await t.close();
    }
  });

  it('a tracerProvider that is not one stops the boot, naming the option', async () => {
    const boot = startApp({ platform: 'express', imports: [SessionTelemetryModule.forRoot({ tracerProvider: {} as never })], controllers: [TelemetryController] });
    await expect(boot).rejects.toMatchObject({ name: 'SessionConfigError', message: expect.stringContaining('"tracerProvider"') });
  });

  it('no module: the engine is the engine itself, not wrapped', async () => {
    const t = await startApp({ platform: 'express', controllers: [TelemetryController] });
    try {
      expect(types.isProxy(t.app.get(SessionBackend))).toBe(false);
      const browser = t.client();
      await browser.post('/set', { v: 'x' });
      expect((await browser.get('/get')).json()).toEqual({ v: 'x' });
    } finally {
      await t.close();
    }
  });
});

describeWith(['redis'], 'SessionTelemetryModule on the cache engine, Redis stopped under the app', () => {
  const otel = sdk();
  let server: PrivateRedis;
  let t: TestApp | undefined;
  beforeAll(async () => {
    server = await privateRedisServer();
  });
  afterAll(async () => {
    await t?.close().catch(() => undefined);
    await server.stop();
    await otel.shutdown();
  });

  it('the failed load is a span with outcome unavailable and error.type, counted in errors; the 503 in unavailable', async () => {
    t = await startApp({
      platform: 'express',
      engine: 'cache',
      session: { secretKey: TEST_SECRET, backendTimeout: 1 },
      redis: { url: server.url, clientOptions: { disableOfflineQueue: true } },
      imports: [SessionTelemetryModule.forRoot({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider })],
      controllers: [TelemetryController],
    });
    const browser = t.client();
    await browser.post('/set', { v: 'x' });
    await server.stop();
    otel.resetSpans();
    expect((await browser.get('/get')).status).toBe(503);
    const [span, ...others] = otel.spans();
    expect(others).toEqual([]);
    expect(span!.name).toBe('django_session.load');
    expect(span!.attributes).toMatchObject({ 'django_session.engine': 'cache', 'django_session.outcome': expect.stringMatching(/^(unavailable|timeout)$/), 'error.type': 'SessionBackendUnavailable' });
    expect(span!.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(count(await otel.points(SESSION_TELEMETRY_NAMES.errors), { 'django_session.operation': 'load', 'error.type': 'SessionBackendUnavailable' })).toBe(1);
    expect(count(await otel.points(SESSION_TELEMETRY_NAMES.unavailable), { 'django_session.engine': 'cache', 'django_session.transport': 'http' })).toBe(1);
    await server.start();
  }, 30_000);

  it('a Redis that does not answer within backendTimeout (CLIENT PAUSE) is the outcome timeout', async () => {
    await t?.close().catch(() => undefined);
    t = await startApp({
      platform: 'express',
      engine: 'cache',
      session: { secretKey: TEST_SECRET, backendTimeout: 0.5 },
      redis: { url: server.url, clientOptions: { disableOfflineQueue: true } },
      imports: [SessionTelemetryModule.forRoot({ tracerProvider: otel.tracerProvider, meterProvider: otel.meterProvider })],
      controllers: [TelemetryController],
    });
    const browser = t.client();
    await browser.post('/set', { v: 'x' });
    const admin = await createClient({ url: server.url }).connect();
    try {
      await admin.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL']);
      otel.resetSpans();
      expect((await browser.get('/get')).status).toBe(503);
      expect(summary(otel.spans())).toEqual(['django_session.load timeout']);
      expect(count(await otel.points(SESSION_TELEMETRY_NAMES.loads), { 'django_session.outcome': 'timeout' })).toBe(1);
    } finally {
      await new Promise((resolve) => setTimeout(resolve, 1_600));
      await admin.close().catch(() => admin.destroy());
    }
  }, 30_000);
});
