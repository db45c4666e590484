import { readFileSync } from 'node:fs';
import { parseDjangoDate, toDjangoUtcString } from '../../src/django-dates.js';

/** An ISO instant (`Z`); `+010000-...`/`-000001-...` for the extended years. */
const at = (iso: string): Date => {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new Error(`bad fixture ${iso}`);
  return d;
};

/** parseDjangoDate as an ISO string, or null: readable failures. */
const parsedIso = (value: string): string | null => parseDjangoDate(value)?.toISOString() ?? null;

describe('toDjangoUtcString', () => {
  it.each([
    // Expected values are Python's str(datetime(...)) for the same instant.
    ['2030-01-02T03:04:05.123Z', '2030-01-02 03:04:05.123000'],
    ['2030-01-02T03:04:05.001Z', '2030-01-02 03:04:05.001000'],
    ['2030-01-02T03:04:05.999Z', '2030-01-02 03:04:05.999000'],
    ['2030-12-31T23:59:59.010Z', '2030-12-31 23:59:59.010000'],
    ['1970-01-01T00:00:00.100Z', '1970-01-01 00:00:00.100000'],
  ])('%s → %s (6-digit fraction, space separator, UTC)', (iso, expected) => {
    expect(toDjangoUtcString(at(iso))).toBe(expected);
  });

  it.each([
    ['2030-01-02T03:04:05.000Z', '2030-01-02 03:04:05'],
    ['2026-06-01T00:00:00Z', '2026-06-01 00:00:00'],
    ['1970-01-01T00:00:00Z', '1970-01-01 00:00:00'],
  ])('leaves out a zero fraction, as str(datetime) does: %s → %s', (iso, expected) => {
    expect(toDjangoUtcString(at(iso))).toBe(expected);
  });

  it('writes UTC whatever the offset the Date was made with', () => {
    expect(toDjangoUtcString(at('2030-01-02T03:04:05.5+05:30'))).toBe('2030-01-01 21:34:05.500000');
  });

  it.each([
    ['0999-01-01T00:00:00Z', '0999-01-01 00:00:00'],
    ['0001-01-01T00:00:00Z', '0001-01-01 00:00:00'],
    ['0050-06-15T12:30:00.250Z', '0050-06-15 12:30:00.250000'],
    ['0099-12-31T23:59:59Z', '0099-12-31 23:59:59'],
    ['1000-01-01T00:00:00Z', '1000-01-01 00:00:00'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31 23:59:59.999000'],
  ])('pads the year to 4 digits: %s → %s', (iso, expected) => {
    expect(toDjangoUtcString(at(iso))).toBe(expected);
  });

  it('throws a RangeError for an invalid Date', () => {
    expect(() => toDjangoUtcString(new Date(Number.NaN))).toThrow(RangeError);
    expect(() => toDjangoUtcString(new Date('not a date'))).toThrow(/invalid Date/);
  });

  it.each([
    ['year 0 (the last millisecond before 0001)', '0000-12-31T23:59:59.999Z'],
    ['a negative year', '-000001-06-01T00:00:00Z'],
    ['year 10000', '+010000-01-01T00:00:00Z'],
    ['year 11533', '+011533-03-04T05:06:07Z'],
    ['the largest Date', '+275760-09-13T00:00:00Z'],
  ])('throws a RangeError for %s, outside Python datetime range', (_what, iso) => {
    let error: unknown;
    try {
      toDjangoUtcString(at(iso));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RangeError);
    expect((error as Error).message).toContain('outside');
    expect((error as Error).message).toContain('1..9999');
  });

  it('round-trips through parseDjangoDate at millisecond precision', () => {
    const dates = [
      '2030-01-02T03:04:05.123Z',
      '2030-01-02T03:04:05.000Z',
      '2030-01-02T03:04:05.001Z',
      '2030-01-02T03:04:05.999Z',
      '2028-02-29T23:59:59.999Z',
      '1970-01-01T00:00:00.000Z',
      '1969-12-31T23:59:59.999Z',
      '0001-01-01T00:00:00.000Z',
      '0050-06-15T12:30:00.250Z',
      '0999-12-31T23:59:59.999Z',
      '9999-12-31T23:59:59.999Z',
    ].map(at);
    // Plus every millisecond of one second, and a spread of instants over the whole range.
    for (let ms = 0; ms < 1000; ms++) dates.push(new Date(Date.UTC(2026, 4, 17, 8, 9, 10, ms)));
    const first = at('0001-01-01T00:00:00Z').getTime();
    const last = at('9999-12-31T23:59:59.999Z').getTime();
    for (let i = 0; i <= 500; i++) dates.push(new Date(first + Math.floor(((last - first) * i) / 500)));
    for (const date of dates) {
      const text = toDjangoUtcString(date);
      expect(text).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{3}000)?$/);
      expect(parseDjangoDate(text)?.getTime()).toBe(date.getTime());
    }
  });

  describe('sorts as text exactly as the dates sort (sqlite compares expire_date as TEXT)', () => {
    it('a whole second sorts before the same second with a fraction', () => {
      const whole = toDjangoUtcString(at('2030-01-01T12:00:00Z'));
      const later = toDjangoUtcString(at('2030-01-01T12:00:00.001Z'));
      expect(whole).toBe('2030-01-01 12:00:00');
      expect(later).toBe('2030-01-01 12:00:00.001000');
      expect(whole < later).toBe(true);
    });

    it('for a sample across ms=0 boundaries, years 1..9999 and the 3/4-digit year change', () => {
      const isos = [
        '2030-01-01T12:00:00.000Z',
        '2030-01-01T12:00:00.001Z',
        '2030-01-01T11:59:59.999Z',
        '2030-01-01T12:00:00.999Z',
        '2030-01-01T12:00:01.000Z',
        '2030-01-01T12:00:01.001Z',
        '2030-01-01T12:00:10.000Z',
        '2030-01-01T12:00:09.999Z',
        '2029-12-31T23:59:59.999Z',
        '2030-01-01T00:00:00.000Z',
        '2030-01-01T00:00:00.100Z',
        '2030-01-01T00:00:00.010Z',
        '2026-05-17T08:09:10.000Z',
        '2026-05-17T08:09:10.500Z',
        '0999-12-31T23:59:59.999Z',
        '1000-01-01T00:00:00.000Z',
        '0099-12-31T23:59:59.999Z',
        '0100-01-01T00:00:00.000Z',
        '0001-01-01T00:00:00.000Z',
        '0001-01-01T00:00:00.001Z',
        '9999-12-31T23:59:59.999Z',
        '9999-12-31T23:59:59.000Z',
        '1970-01-01T00:00:00.000Z',
        '1969-12-31T23:59:59.999Z',
      ];
      const dates = isos.map(at);
      // A deterministic spread: whole seconds and near-boundary milliseconds around random instants.
      let seed = 12345;
      const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const first = at('0001-01-01T00:00:01Z').getTime();
      const last = at('9999-12-31T23:59:58Z').getTime();
      for (let i = 0; i < 150; i++) {
        const whole = Math.floor((first + Math.floor(next() * (last - first))) / 1000) * 1000;
        dates.push(new Date(whole), new Date(whole + 1), new Date(whole - 1), new Date(whole + Math.floor(next() * 1000)));
      }
      const texts = dates.map(toDjangoUtcString);
      let checked = 0;
      for (let i = 0; i < dates.length; i++) {
        for (let j = 0; j < dates.length; j++) {
          const byTime = Math.sign(dates[i]!.getTime() - dates[j]!.getTime());
          const a = texts[i]!;
          const b = texts[j]!;
          const byText = a < b ? -1 : a > b ? 1 : 0;
          if (byText !== byTime) {
            throw new Error(`${dates[i]!.toISOString()} vs ${dates[j]!.toISOString()}: "${a}" vs "${b}" sorts ${byText}, dates ${byTime}`);
          }
          checked++;
        }
      }
      expect(checked).toBe(dates.length ** 2);
      expect(dates.length).toBeGreaterThan(600);
    });
  });
});

describe('parseDjangoDate', () => {
  it.each([
    // Django's expire_date text (str(datetime)), and its T form.
    ['2030-01-02 03:04:05', '2030-01-02T03:04:05.000Z'],
    ['2030-01-02 03:04:05.123000', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02T03:04:05.123000', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02T03:04:05', '2030-01-02T03:04:05.000Z'],
    // Seconds are optional.
    ['2030-01-02 03:04', '2030-01-02T03:04:00.000Z'],
    ['2030-01-02T03:04Z', '2030-01-02T03:04:00.000Z'],
    ['2030-01-02T03:04+01:00', '2030-01-02T02:04:00.000Z'],
    // 1 to 6 fraction digits.
    ['2030-01-02 03:04:05.5', '2030-01-02T03:04:05.500Z'],
    ['2030-01-02 03:04:05.05', '2030-01-02T03:04:05.050Z'],
    ['2030-01-02 03:04:05.123', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02 03:04:05.1234', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02 03:04:05.12345', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02 03:04:05.000001', '2030-01-02T03:04:05.000Z'],
  ])('%s → %s', (input, expected) => {
    expect(parsedIso(input)).toBe(expected);
  });

  it.each([
    ['2030-01-02T03:04:05.123999', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02T03:04:05.999999', '2030-01-02T03:04:05.999Z'],
    ['2030-01-02T03:04:05.000999', '2030-01-02T03:04:05.000Z'],
    ['2030-12-31T23:59:59.999999+00:00', '2030-12-31T23:59:59.999Z'],
  ])('truncates microseconds to milliseconds (never rounds up): %s → %s', (input, expected) => {
    expect(parsedIso(input)).toBe(expected);
  });

  it.each([
    ['2030-01-02T03:04:05.500000+02:00', '2030-01-02T01:04:05.500Z'],
    ['2030-01-02T03:04:05.123456+05:30', '2030-01-01T21:34:05.123Z'],
    ['2030-01-02T03:04:05.123456+0530', '2030-01-01T21:34:05.123Z'],
    ['2030-01-02T03:04:05-05:00', '2030-01-02T08:04:05.000Z'],
    ['2030-01-02T03:04:05-0330', '2030-01-02T06:34:05.000Z'],
    ['2030-01-02T23:30:00-01:00', '2030-01-03T00:30:00.000Z'],
    ['2030-01-02T03:04:05+23:59', '2030-01-01T03:05:05.000Z'],
    ['2030-01-02T03:04:05.123456+00:00', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02T03:04:05.123456-00:00', '2030-01-02T03:04:05.123Z'],
    ['2030-01-02T03:04:05Z', '2030-01-02T03:04:05.000Z'],
    ['2030-01-02 03:04:05.5Z', '2030-01-02T03:04:05.500Z'],
  ])('applies the offset: %s → %s', (input, expected) => {
    expect(parsedIso(input)).toBe(expected);
  });

  it('reads the _session_expiry values Django wrote in vectors.json', () => {
    const { vectors } = JSON.parse(
      readFileSync(new URL('../fixtures/django/vectors.json', import.meta.url), 'utf8'),
    ) as { vectors: Array<{ id: string; dict: unknown }> };
    const expiryOf = (v: { dict: unknown }): unknown => (v.dict as { _session_expiry?: unknown } | null)?._session_expiry;
    for (const id of ['expiry_iso', 'expiry_set_by_datetime_django5']) {
      const value = expiryOf(vectors.find((v) => v.id === id)!);
      expect(value).toBe('2030-01-02T03:04:05.123456+00:00');
      expect(parsedIso(value as string)).toBe('2030-01-02T03:04:05.123Z');
    }
    const strings = vectors.map(expiryOf).filter((x): x is string => typeof x === 'string');
    for (const value of strings) expect(parseDjangoDate(value)).not.toBeNull();
  });

  it.each([
    ['0001-01-01 00:00:00', '0001-01-01T00:00:00.000Z'],
    ['0050-06-15 12:30:00', '0050-06-15T12:30:00.000Z'],
    ['0099-12-31 23:59:59.999000', '0099-12-31T23:59:59.999Z'],
    ['0999-01-01 00:00:00', '0999-01-01T00:00:00.000Z'],
    ['9999-12-31 23:59:59.999999', '9999-12-31T23:59:59.999Z'],
  ])('reads years below 1000 as written (not as 19xx): %s', (input, expected) => {
    expect(parsedIso(input)).toBe(expected);
  });

  describe('leap years', () => {
    it.each(['2028-02-29 00:00:00', '2000-02-29 12:00:00', '2024-02-29T23:59:59.999999+00:00', '0004-02-29 00:00:00'])(
      '%s is a real day',
      (input) => {
        const date = parseDjangoDate(input);
        expect(date).not.toBeNull();
        expect(date!.getUTCMonth()).toBe(1);
        expect(date!.getUTCDate()).toBe(29);
      },
    );

    it.each(['2027-02-29 00:00:00', '1900-02-29 00:00:00', '2100-02-29 00:00:00', '2030-02-29T00:00:00Z'])(
      '%s → null',
      (input) => {
        expect(parseDjangoDate(input)).toBeNull();
      },
    );
  });

  it.each([
    ['2030-01-31 00:00:00', '2030-01-31T00:00:00.000Z'],
    ['2030-02-28 00:00:00', '2030-02-28T00:00:00.000Z'],
    ['2030-03-31 00:00:00', '2030-03-31T00:00:00.000Z'],
    ['2030-04-30 00:00:00', '2030-04-30T00:00:00.000Z'],
    ['2030-12-31 23:59:59', '2030-12-31T23:59:59.000Z'],
  ])('accepts the last day of a month: %s', (input, expected) => {
    expect(parsedIso(input)).toBe(expected);
  });

  it.each([
    ['Feb 31', '2030-02-31 00:00:00'],
    ['Feb 30', '2030-02-30T00:00:00'],
    ['Apr 31', '2030-04-31 00:00:00'],
    ['Jun 31', '2030-06-31 00:00:00'],
    ['Sep 31', '2030-09-31 00:00:00'],
    ['Nov 31', '2030-11-31T00:00:00+00:00'],
    ['Jan 32', '2030-01-32 00:00:00'],
    ['day 00', '2030-01-00 00:00:00'],
    ['month 00', '2030-00-10 00:00:00'],
    ['month 13', '2030-13-01 00:00:00'],
    ['hour 24', '2030-01-02 24:00:00'],
    ['hour 25', '2030-01-02T25:00:00Z'],
    ['minute 60', '2030-01-02 03:60:00'],
    ['minute 60 without seconds', '2030-01-02 03:60'],
    ['second 60 (no leap seconds in Python)', '2030-12-31 23:59:60'],
    ['second 99', '2030-01-02 03:04:99.5'],
    ['year 0000', '0000-01-01 00:00:00'],
    ['offset +24:00', '2030-01-02T03:04:05+24:00'],
    ['offset -2400', '2030-01-02T03:04:05-2400'],
    ['offset minutes 60', '2030-01-02T03:04:05+05:60'],
  ])('rejects an impossible value instead of rolling it over: %s', (_what, input) => {
    expect(parseDjangoDate(input)).toBeNull();
  });

  it.each([
    '',
    'garbage',
    'null',
    '2030-01-02',
    '03:04:05',
    '2030-1-2 03:04:05',
    '30-01-02 03:04:05',
    '+012030-01-02 03:04:05',
    '2030/01/02 03:04:05',
    '2030-01-02X03:04:05',
    '2030-01-0203:04:05',
    ' 2030-01-02 03:04:05',
    '2030-01-02 03:04:05 ',
    '2030-01-02 03:04:05\n',
    '2030-01-02 3:04:05',
    '2030-01-02 03:04:5',
    '2030-01-02 03',
    '2030-01-02 03:04:05.',
    '2030-01-02 03:04:05.1234567',
    '2030-01-02 03:04.5',
    '2030-01-02 03:04:05+05',
    '2030-01-02 03:04:05+5:30',
    '2030-01-02 03:04:05 +05:30',
    '2030-01-02 03:04:05z',
    '2030-01-02 03:04:05ZZ',
    '2030-01-02 03:04:05Z+01:00',
    '2030-01-02 03:04:05 UTC',
    '2030-01-02T03:04:05.123456+00:00:00',
    'Wed, 02 Jan 2030 03:04:05 GMT',
    '1893456000',
    '２０３０-01-02 03:04:05',
  ])('rejects junk: %j', (input) => {
    expect(parseDjangoDate(input)).toBeNull();
  });
});
