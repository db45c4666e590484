/**
 * Django's stored passwords (`auth_user.password`), checked and made the way
 * `django.contrib.auth.hashers` does, so that either side verifies what the other wrote.
 *
 * Formats (`algorithm$…`; the hashers of Django's default `PASSWORD_HASHERS`, plus plain bcrypt):
 *
 *     pbkdf2_sha256$<iterations>$<salt>$<base64 of PBKDF2-HMAC-SHA256(password, salt), 32 bytes>
 *     pbkdf2_sha1$<iterations>$<salt>$<base64 of PBKDF2-HMAC-SHA1, 20 bytes>
 *     argon2$argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt b64>$<hash b64>   (also argon2i/argon2d, no "v=")
 *     bcrypt_sha256$$2b$<cost>$<22-char salt><31-char hash>   bcrypt of the hex SHA-256 of the password
 *     bcrypt$$2b$<cost>$<salt><hash>                           bcrypt of the password (72 bytes read)
 *     scrypt$<N>$<salt>$<r>$<p>$<base64 of scrypt(password, salt, N, r, p), 64 bytes>   (Django 4.0+)
 *     !<anything>                                              an unusable password (set_unusable_password)
 *
 * Passwords and salts are UTF-8 encoded. Known answer (Django 3.2's make_password with a fixed salt,
 * test/fixtures/django-auth/hashes.json): `'correct horse battery staple'` with salt
 * `'CGKZBKaCCatDuR2CFzD6ZS'` is
 * `'pbkdf2_sha256$260000$CGKZBKaCCatDuR2CFzD6ZS$hlIyLPwx1gkM0hlag0ZGAcuxt647J7DgLYfm1WqODdE='`.
 *
 * For scrypt (Django 5.1's ScryptPasswordHasher, test/fixtures/django-auth/scrypt.json), the same
 * password with salt `'jfNl8oHvAesXlaJVN0kMTB'`, N=2^14, r=8, p=5 is
 * `'scrypt$16384$jfNl8oHvAesXlaJVN0kMTB$8$5$W6IjI6zMEU2AO2xSHYbcubGStOi9T6zBVHiP4SP/MsWN0tN/DDPMjxXin0Bo3lKUsCQKOtbAmtMJW6fFvnsCdw=='`.
 *
 * argon2 and bcrypt need the optional packages `hash-wasm` (WebAssembly) and `bcryptjs`, loaded on
 * first use only. No hash runs on the event loop: argon2 and bcrypt compute in worker threads,
 * scrypt and PBKDF2 on libuv's thread pool; argon2, bcrypt and scrypt a few at a time (see
 * password-hash-pool.ts).
 */
import { createHash, pbkdf2 as pbkdf2Callback, randomInt, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { constantTimeEqual } from '../codec/signing.js';
import { djangoVersionTraits, type DjangoVersion } from '../django-versions.js';
import { passwordHashPool } from './password-hash-pool.js';

export { PasswordHashersBusy } from './password-hash-pool.js';

const pbkdf2 = promisify(pbkdf2Callback);

/**
 * `PBKDF2PasswordHasher.iterations` of the default `djangoVersion`, Django 5.2: 1,000,000. Each
 * release has its own (3.2: 260,000; 6.1: 1,500,000; see django-versions.ts), verifies any count,
 * and re-hashes a password made at another count at its next login.
 */
export const DJANGO_PBKDF2_ITERATIONS = djangoVersionTraits().pbkdf2Iterations;

/**
 * Work factors past which a stored hash is refused (`false`) rather than computed. Each allows a
 * few times Django's default cost, about a second of one core at most (Django's defaults take
 * 0.05-0.4 s): anything past them comes from a corrupt or planted row, and would hold a hashing
 * thread (and the logins queued behind it) for minutes, or take gigabytes.
 */
const LIMITS = {
  /** ~1.5 s. Django's default is 260000 in 3.2, 1000000 in 5.2, 1500000 in 6.1. */
  pbkdf2Iterations: 10_000_000,
  /** KiB: 256 MiB, held by a hashing thread while it runs. Django's default is 102400 (100 MiB). */
  argon2Memory: 256 * 1024,
  /** Memory (KiB) × passes: 512 MiB·passes, 2.5 times Django's default (102400 KiB × t=2): ~1 s. */
  argon2Work: 512 * 1024,
  argon2Parallelism: 64,
  /** 2^13 rounds, ~0.7 s in bcryptjs (pure JavaScript); Django's default is 12, and each step doubles. */
  bcryptCost: 13,
  /**
   * N·r·p: 2^21, so scrypt mixes at most 128·N·r·p = 256 MiB (and holds 128·N·r ≤ 256 MiB): 3.2 times
   * Django 5.1's default (2^14·8·5), 16 times 4.x's (2^14·8·1); ~1 s.
   */
  scryptWork: 2 ** 21,
  /** Characters of a stored value (Django's column holds 128). */
  encodedLength: 4096,
} as const;

/** `django.utils.crypto.RANDOM_STRING_CHARS`. */
const RANDOM_STRING_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** `BasePasswordHasher.salt()`: ceil(128 bits / log2(62)) = 22 characters, since Django 3.2. */
const SALT_LENGTH = Math.ceil(128 / Math.log2(RANDOM_STRING_CHARS.length));

const PBKDF2_DIGESTS = { pbkdf2_sha256: 'sha256', pbkdf2_sha1: 'sha1' } as const;

/**
 * Django's `check_password(password, encoded)`: whether `password` matches the stored hash `encoded`.
 *
 * Never throws on bad data: an unusable password (`!…`), an unknown algorithm, a malformed value
 * or an absurd work factor is `false` (where Django raises `ValueError` on some of them).
 *
 * Takes as long as Django's `check_password()` of the release `options.djangoVersion` names
 * (default `'5.2'`), so that a response's timing does not tell which usernames exist: an unusable
 * or unknown `encoded` costs one PBKDF2 run at that release's iteration count (so "no such user",
 * pass `''`, takes as long as a wrong password), and a wrong password for a `pbkdf2_sha256` hash
 * made at fewer iterations (an older Django, or `makeDjangoPassword` at another version) runs the
 * missing iterations too (Django's `harden_runtime()`).
 *
 * Never blocks the event loop: argon2 and bcrypt are computed in worker threads, scrypt and PBKDF2
 * on libuv's pool. argon2, bcrypt and scrypt take turns, `PASSWORD_HASH_THREADS` (2) at a time
 * with up to `MAX_WAITING_PASSWORD_HASHES` (32) waiting.
 *
 * Rejects (never for a wrong password) when an argon2 or bcrypt hash needs a package that is not
 * installed (`hash-wasm`, `bcryptjs`): a configuration error; with `PasswordHashersBusy` (HTTP 503)
 * when that many checks wait already; or with an `Error` if a hashing thread dies.
 *
 * @example
 * ```ts
 * const user = await users.findOneBy({ username });
 * const ok = await verifyDjangoPassword(password, user?.password ?? '');
 * ```
 */
export async function verifyDjangoPassword(password: string, encoded: string, options: VerifyDjangoPasswordOptions = {}): Promise<boolean> {
  const { pbkdf2Iterations } = djangoVersionTraits(options.djangoVersion);
  if (typeof password !== 'string' || typeof encoded !== 'string' || !isWellFormed(password) || !isUsable(encoded)) {
    await fakeRuntime(pbkdf2Iterations);
    return false;
  }
  if (encoded.length > LIMITS.encodedLength) return false;
  const dollar = encoded.indexOf('$');
  const algorithm = dollar === -1 ? encoded : encoded.slice(0, dollar);
  switch (algorithm) {
    case 'pbkdf2_sha256':
    case 'pbkdf2_sha1':
      return verifyPbkdf2(password, encoded, algorithm, pbkdf2Iterations);
    case 'argon2':
      return verifyArgon2(password, encoded.slice(dollar + 1));
    case 'bcrypt_sha256':
    case 'bcrypt':
      return verifyBcrypt(password, encoded, algorithm === 'bcrypt_sha256');
    case 'scrypt':
      return verifyScrypt(password, encoded);
    default:
      // Django: identify_hasher() fails (`md5$…`, `sha1$…`, `crypt$…`, not in the default
      // PASSWORD_HASHERS, or gibberish): check_password() is false after a fake run.
      await fakeRuntime(pbkdf2Iterations);
      return false;
  }
}

/** Options of `verifyDjangoPassword()`. */
export interface VerifyDjangoPasswordOptions {
  /** The Django release whose check to match in time (its PBKDF2 cost): the module's `djangoVersion`. Default `'5.2'`. */
  djangoVersion?: DjangoVersion;
}

/** Options of `makeDjangoPassword()`. */
export interface MakeDjangoPasswordOptions {
  /**
   * The Django release the password is for: it is made at that release's PBKDF2 cost, so that
   * Django keeps it as it is at the user's next login (a re-hash changes `_auth_user_hash`, which
   * ends the user's other sessions). Pass the module's `djangoVersion`. Default `'5.2'`.
   */
  djangoVersion?: DjangoVersion;
  /** PBKDF2 iterations, when not those of `djangoVersion` (1,000,000 for 5.2); at most 10,000,000. */
  iterations?: number;
  /** The salt; default 22 random characters of `[a-zA-Z0-9]`, as Django's `hasher.salt()`. Must not contain `$`. */
  salt?: string;
}

/**
 * Django's `make_password(password)` with `PBKDF2PasswordHasher`: a `pbkdf2_sha256$…` value to
 * store in `auth_user.password`, which Django's `check_password()` accepts, made at the cost of
 * the release `options.djangoVersion` names (default `'5.2'`: 1,000,000 iterations).
 *
 * @example
 * user.password = await makeDjangoPassword(plain, { djangoVersion: '5.2' });
 */
export async function makeDjangoPassword(password: string, options: MakeDjangoPasswordOptions = {}): Promise<string> {
  if (typeof password !== 'string') throw new TypeError(`makeDjangoPassword() takes a string password, got ${typeof password}`);
  // Python cannot UTF-8 encode a lone surrogate; Node would write U+FFFD and hash another password.
  if (!isWellFormed(password)) throw new TypeError('makeDjangoPassword(): the password contains a lone UTF-16 surrogate');
  const iterations = options.iterations ?? djangoVersionTraits(options.djangoVersion).pbkdf2Iterations;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > LIMITS.pbkdf2Iterations) {
    throw new RangeError(`makeDjangoPassword(): iterations must be an integer from 1 to ${LIMITS.pbkdf2Iterations}, got ${iterations}`);
  }
  const salt = options.salt ?? randomSalt();
  if (typeof salt !== 'string' || salt === '' || salt.includes('$') || !isWellFormed(salt)) {
    throw new TypeError('makeDjangoPassword(): the salt must be a non-empty string without "$"');
  }
  return encodePbkdf2('pbkdf2_sha256', password, salt, iterations);
}

// ---- PBKDF2 ----------------------------------------------------------------------------------

async function encodePbkdf2(algorithm: keyof typeof PBKDF2_DIGESTS, password: string, salt: string, iterations: number): Promise<string> {
  const digest = PBKDF2_DIGESTS[algorithm];
  // dklen=0 in Django: the digest's own size.
  const key = await pbkdf2(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), iterations, digest === 'sha256' ? 32 : 20, digest);
  return `${algorithm}$${iterations}$${salt}$${key.toString('base64')}`;
}

async function verifyPbkdf2(password: string, encoded: string, algorithm: keyof typeof PBKDF2_DIGESTS, currentIterations: number): Promise<boolean> {
  // Django: `algorithm, iterations, salt, hash = encoded.split('$', 3)`, then re-encodes with
  // `'%d' % int(iterations)` and compares whole strings: so only the canonical decimal form of a
  // positive count can ever match ('0' becomes the default count, '+5', '05', '5_0' re-encode
  // differently), and the salt is what lies between the 2nd and 3rd '$'.
  const parts = encoded.split('$');
  if (parts.length < 4) return false;
  const [, iterationsText, salt] = parts as [string, string, string];
  if (!/^[1-9][0-9]{0,7}$/.test(iterationsText) || salt === '' || !isWellFormed(salt)) return false;
  const iterations = Number(iterationsText);
  if (iterations > LIMITS.pbkdf2Iterations) return false;
  const ok = constantTimeEqual(await encodePbkdf2(algorithm, password, salt, iterations), encoded);
  // Django's harden_runtime(), for a wrong password under the preferred hasher (pbkdf2_sha256) at
  // fewer iterations than the release's: the rest of them, so the answer takes the release's time.
  if (!ok && algorithm === 'pbkdf2_sha256' && iterations < currentIterations) {
    await encodePbkdf2(algorithm, password, salt, currentIterations - iterations);
  }
  return ok;
}

// ---- argon2 ----------------------------------------------------------------------------------

/** `$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>`, as argon2-cffi writes it (version optional: 1.0). */
const ARGON2_FORMAT = /^\$argon2(?:id|i|d)\$(?:v=(?:16|19)\$)?m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,10})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{6,}$/;

async function verifyArgon2(password: string, phc: string): Promise<boolean> {
  // Django: `argon2.PasswordHasher().verify('$' + rest, password)`.
  const digest = '$' + phc;
  const match = ARGON2_FORMAT.exec(digest);
  if (match === null) return false;
  const [memory, time, parallelism] = match.slice(1).map(Number) as [number, number, number];
  if (memory > LIMITS.argon2Memory || memory * time > LIMITS.argon2Work || parallelism > LIMITS.argon2Parallelism) return false;
  const [, variant, ...fields] = digest.split('$') as [string, 'argon2id' | 'argon2i' | 'argon2d', ...string[]];
  // Argon2 1.3 (v=19), what argon2-cffi has written since 2016; 1.0 hashes (no "v=", or v=16) are not read.
  if (fields.length !== 4 || fields[0] !== 'v=19') return false;
  const salt = Buffer.from(fields[2]!, 'base64');
  const expected = Buffer.from(fields[3]!, 'base64');
  // What argon2-cffi refuses (Django then raises): a salt under 8 bytes, a hash under 4, m < 8·p.
  // And what hash-wasm cannot hash: the empty password (no login form sends one).
  if (password === '' || salt.length < 8 || expected.length < 4 || memory < 8 * parallelism || time < 1 || parallelism < 1) return false;
  // hash-wasm: WebAssembly, as fast as native, nothing to compile on install.
  const actual = await passwordHashPool.compute({
    kind: 'argon2',
    url: optionalPackageUrl('hash-wasm', 'an argon2 password hash'),
    variant,
    password: Buffer.from(password, 'utf8'),
    salt,
    iterations: time,
    memorySize: memory,
    parallelism,
    hashLength: expected.length,
  });
  // null: hash-wasm refused the parameters.
  return actual instanceof Uint8Array && actual.length === expected.length && timingSafeEqual(actual, expected);
}

// ---- bcrypt ----------------------------------------------------------------------------------

/** `$2b$12$` + 22 salt characters + 31 hash characters, in bcrypt's own base64 alphabet. */
const BCRYPT_FORMAT = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/;

async function verifyBcrypt(password: string, encoded: string, prehash: boolean): Promise<boolean> {
  // Django: `algorithm, data = encoded.split('$', 1)`, hashes again with `data` as the salt (bcrypt
  // reads its first 29 characters) and compares whole strings.
  const prefix = prehash ? 'bcrypt_sha256$' : 'bcrypt$';
  const data = encoded.slice(prefix.length);
  const match = BCRYPT_FORMAT.exec(data);
  if (match === null) return false;
  const cost = Number(match[1]);
  if (cost < 4 || cost > LIMITS.bcryptCost) return false;
  // bcrypt_sha256 (Django ticket #20138): bcrypt of the 64 hex digits of SHA-256, so no password is
  // cut at bcrypt's 72 bytes. Plain bcrypt: Python's bcrypt refuses a NUL byte.
  if (!prehash && password.includes('\0')) return false;
  const input = prehash ? createHash('sha256').update(password, 'utf8').digest('hex') : password;
  const hashed = await passwordHashPool.compute({
    kind: 'bcrypt',
    url: optionalPackageUrl('bcryptjs', 'a bcrypt password hash'),
    password: input,
    salt: data.slice(0, 29),
  });
  // null: bcryptjs refused the salt.
  return typeof hashed === 'string' && constantTimeEqual(prefix + hashed, encoded);
}

// ---- scrypt ----------------------------------------------------------------------------------

function scrypt(password: Buffer, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key))));
}

/** `'%d' % n` of a positive count: what Django's re-encoding can match (see `verifyPbkdf2`). */
const POSITIVE_DECIMAL = /^[1-9][0-9]{0,9}$/;

async function verifyScrypt(password: string, encoded: string): Promise<boolean> {
  // Django 4.0+ (ScryptPasswordHasher): `algorithm, work_factor, salt, block_size, parallelism, hash_
  // = encoded.split('$', 6)` (exactly six fields, else ValueError), then re-encodes with `'%d'` of
  // each int() and compares whole strings: only canonical decimals can match ('016384', '+8' and
  // '0', which becomes the default, all re-encode differently).
  const fields = encoded.split('$');
  if (fields.length !== 6) return false;
  const [, nText, salt, rText, pText] = fields as [string, string, string, string, string, string];
  if (!POSITIVE_DECIMAL.test(nText) || !POSITIVE_DECIMAL.test(rText) || !POSITIVE_DECIMAL.test(pText)) return false;
  const [N, r, p] = [Number(nText), Number(rText), Number(pText)];
  // hashlib.scrypt raises ValueError (so does Django) unless N is a power of 2 above 1; an empty salt
  // is refused by `_check_encode_args()`.
  if (N < 2 || !Number.isInteger(Math.log2(N)) || salt === '' || !isWellFormed(salt)) return false;
  if (N * r * p > LIMITS.scryptWork) return false;
  // On libuv's pool, in one of the pool's turns: at the limit it holds 256 MiB for a second.
  return passwordHashPool.turn(async () => {
    let key: Buffer;
    try {
      // maxmem: what OpenSSL allocates, 128·r·(N + 2) bytes for V and 128·r·p for B (Node's default,
      // 32 MiB, would refuse hashes that Django verifies with its `maxmem` raised).
      key = await scrypt(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), 64, { N, r, p, maxmem: 128 * r * (N + p + 2) });
    } catch {
      return false;
    }
    // dklen=64, `base64.b64encode(hash_)`: padded, as Node writes it.
    return constantTimeEqual(`scrypt$${N}$${salt}$${r}$${p}$${key.toString('base64')}`, encoded);
  });
}

// ---- shared ----------------------------------------------------------------------------------

const resolved = new Map<string, string>();

/**
 * The file URL of an optional peer dependency, for a hashing thread to import (this thread never
 * loads it); a clear error when it is not installed. Resolved from this file, as an `import` here
 * would be, and through `require.resolve`, which ts-jest and compiled code both have.
 */
function optionalPackageUrl(name: string, what: string): string {
  let url = resolved.get(name);
  if (url === undefined) {
    try {
      url = pathToFileURL(createRequire(import.meta.url).resolve(name)).href;
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
        throw new Error(`Verifying ${what} needs the optional package "${name}": npm install ${name}`, { cause: error });
      }
      throw error;
    }
    resolved.set(name, url);
  }
  return url;
}

/** `is_password_usable()`: `make_password(None)` and `set_unusable_password()` write `'!'` + 40 random characters. */
function isUsable(encoded: string): boolean {
  return !encoded.startsWith('!');
}

/** `String.prototype.isWellFormed()` (Node 20+): no lone UTF-16 surrogate, so UTF-8 encoding is exact as in Python. */
function isWellFormed(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** Django's `make_password(get_random_string(40))` on a check that cannot succeed (ticket #20760), at the release's cost. */
async function fakeRuntime(iterations: number): Promise<void> {
  await encodePbkdf2('pbkdf2_sha256', randomString(40), randomSalt(), iterations);
}

function randomSalt(): string {
  return randomString(SALT_LENGTH);
}

/** `get_random_string(length)`: `secrets.choice` over `[a-zA-Z0-9]`, unbiased. */
function randomString(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += RANDOM_STRING_CHARS[randomInt(RANDOM_STRING_CHARS.length)];
  return out;
}
