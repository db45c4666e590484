/**
 * Where `verifyDjangoPassword` computes the expensive hashes, so that none of them holds the event
 * loop, and how many it computes at once.
 *
 * argon2 (hash-wasm) and bcrypt (bcryptjs) compute on the thread that calls them: one check at
 * Django's argon2 defaults is ~0.4 s during which the process answers nothing else. They run here
 * in worker threads instead. scrypt and PBKDF2 already run on libuv's thread pool (node:crypto's
 * asynchronous functions); scrypt, which may take 256 MiB and a second, takes turns here too.
 * PBKDF2 does not: it is Django's default (~40 ms at 260,000 iterations) and what every check of
 * an unknown user or unusable password costs, and libuv's pool bounds it (4 threads by default).
 *
 * At most `PASSWORD_HASH_THREADS` hashes run at once (2, or 1 on a one-core machine), so that a
 * burst of logins (or of wrong passwords on purpose) leaves CPU to the rest of the app and holds at
 * most that many hashes' memory. Up to `MAX_WAITING_PASSWORD_HASHES` more wait their turn, first
 * come first served; past that a check is refused at once with `PasswordHashersBusy` (HTTP 503)
 * rather than queued for ever longer: not `false`, which would tell a user with the right password
 * that it is wrong (and count as a failed login wherever failures are counted).
 *
 * One pool per process, on purpose (where the rest of the package keeps state in instances Nest
 * creates): what it bounds is the process's CPU and memory, which every app in the process shares.
 *
 * The worker is a small script run with `eval: true`, so that it works alike compiled (dist/) and
 * from TypeScript source (ts-jest), with no file of its own to locate. It imports the
 * optional package by the absolute URL the caller resolved, on its first job for it: an app that
 * verifies no argon2 or bcrypt hash loads neither. Threads are `unref()`ed while idle (an idle
 * pool never keeps the process alive; a running check does, as any pending I/O would), and end
 * after `IDLE_THREAD_MS` without work. A thread that dies (or outlives `JOB_TIMEOUT_MS`) rejects
 * its caller with an error and is replaced on the next job: it never takes the process down nor
 * leaves a caller waiting.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Hashes computed at once: two at most (the app keeps the other cores), one on a one-core machine. */
export const PASSWORD_HASH_THREADS = Math.max(1, Math.min(2, availableParallelism()));

/** Checks that may wait for a free thread; the next one is refused with `PasswordHashersBusy`. */
export const MAX_WAITING_PASSWORD_HASHES = 32;

/** An idle thread ends after this long (a new one starts in ~50 ms when needed again). */
const IDLE_THREAD_MS = 30_000;

/** A job still running after this long is abandoned (its thread ended): no hash within the limits takes a tenth of it. */
const JOB_TIMEOUT_MS = 60_000;

/**
 * `verifyDjangoPassword()` refused to queue another check: `PASSWORD_HASH_THREADS` are hashing and
 * `MAX_WAITING_PASSWORD_HASHES` checks wait already. The process is overloaded with password checks
 * (a burst of logins, or someone trying passwords): not a wrong password. Answered **503** by
 * Nest's exception filter, Express and Fastify alike, which read `statusCode`/`status`/`expose` as
 * they read the `http-errors` package's errors.
 */
export class PasswordHashersBusy extends Error {
  override name = 'PasswordHashersBusy';
  readonly status = 503;
  readonly statusCode = 503;
  /** The message is meant for the client (it names no user, password or hash). */
  readonly expose = true;
  constructor() {
    super('Too many password checks are waiting. Try again shortly.');
  }
}

/** What a thread computes: a function of the optional package at `url` (resolved by the caller). */
export type PasswordHashJob =
  | {
      kind: 'argon2';
      url: string;
      variant: 'argon2id' | 'argon2i' | 'argon2d';
      password: Uint8Array;
      salt: Uint8Array;
      iterations: number;
      memorySize: number;
      parallelism: number;
      hashLength: number;
    }
  | { kind: 'bcrypt'; url: string; password: string; salt: string };

/** The thread's answer: the hash, or that the hash function refused its input (`hashed: false`). */
type Reply = { hashed: true; value: unknown } | { hashed: false } | { loadError: string };

/**
 * The worker's source. `import(url)` of an absolute file URL works from an eval'd script; the module
 * is the package's default export when it has one (CommonJS or ESM build alike). A hash function's
 * own error (input it refuses) is answered as `hashed: false`, never with its message.
 */
const WORKER_SOURCE = `'use strict';
// import(), not require(): the script is CommonJS or an ES module as the process's --input-type says.
import('node:worker_threads').then(({ parentPort }) => {
  const modules = new Map();
  const load = (url) => {
    let loading = modules.get(url);
    if (loading === undefined) {
      loading = import(url).then((m) => m.default ?? m);
      modules.set(url, loading);
    }
    return loading;
  };
  const compute = {
    argon2: (lib, job) => lib[job.variant]({
      password: job.password, salt: job.salt, iterations: job.iterations, memorySize: job.memorySize,
      parallelism: job.parallelism, hashLength: job.hashLength, outputType: 'binary',
    }),
    bcrypt: (lib, job) => lib.hash(job.password, job.salt),
  };
  parentPort.on('message', async (job) => {
    let lib;
    try {
      lib = await load(job.url);
    } catch (error) {
      modules.delete(job.url);
      parentPort.postMessage({ loadError: String(error && error.message) });
      return;
    }
    let reply;
    try {
      reply = { hashed: true, value: await compute[job.kind](lib, job) };
    } catch {
      reply = { hashed: false };
    }
    parentPort.postMessage(reply);
  });
});
`;

interface Thread {
  worker: Worker;
  /** Set while a job runs: settles its caller. */
  settle?: (outcome: { value: unknown } | { error: Error }) => void;
  idleTimer?: NodeJS.Timeout;
}

/** The process's threads and turns (see the top of this file). */
export class PasswordHashPool {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly idle: Thread[] = [];
  private readonly busy = new Set<Thread>();

  constructor(
    private readonly size = PASSWORD_HASH_THREADS,
    private readonly maxWaiting = MAX_WAITING_PASSWORD_HASHES,
  ) {}

  /**
   * Runs `task` (one hash) in one of the pool's turns: now if fewer than `size` run, else after
   * those ahead of it. Rejects with `PasswordHashersBusy`, without running it, when `maxWaiting`
   * wait already. The decision is taken synchronously, when called.
   */
  async turn<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.size) {
      this.running++;
    } else {
      if (this.waiting.length >= this.maxWaiting) throw new PasswordHashersBusy();
      // The turn is handed over by the one that ends (`running` stays counted).
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }

  /**
   * Computes `job` on a worker thread, in a turn. Resolves to the hash function's result, or to
   * `null` when the function refused its input (Django would raise `ValueError`: a wrong
   * password for the caller). Rejects with `PasswordHashersBusy` (see `turn`), or with an `Error`
   * when the package cannot be loaded in the thread or the thread dies.
   */
  compute(job: PasswordHashJob): Promise<unknown> {
    return this.turn(() => this.dispatch(job));
  }

  /** Ends every thread now; jobs still running reject. The pool starts new threads when used again. */
  async close(): Promise<void> {
    const threads = [...this.idle, ...this.busy];
    this.idle.length = 0;
    await Promise.all(threads.map((thread) => this.end(thread)));
  }

  private dispatch(job: PasswordHashJob): Promise<unknown> {
    return new Promise((resolve, reject) => {
      let thread: Thread;
      try {
        thread = this.idle.pop() ?? this.spawn();
      } catch (error) {
        reject(new Error(`Could not start a password-hashing thread (${errorClass(error)})`, { cause: error }));
        return;
      }
      clearTimeout(thread.idleTimer);
      const timeout = setTimeout(() => {
        thread.settle?.({ error: new Error(`A password hash took longer than ${JOB_TIMEOUT_MS / 1000} s: its thread was ended`) });
        void this.end(thread);
      }, JOB_TIMEOUT_MS).unref();
      thread.settle = (outcome) => {
        clearTimeout(timeout);
        thread.settle = undefined;
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.value);
      };
      this.busy.add(thread);
      // Referenced while it works: a script awaiting a check must not exit under it.
      thread.worker.ref();
      try {
        // One job at a time per thread: its next message is this job's answer.
        thread.worker.postMessage(job);
      } catch (error) {
        thread.settle({ error: new Error(`Could not hand a password hash to its thread (${errorClass(error)})`, { cause: error }) });
        void this.end(thread);
      }
    });
  }

  private spawn(): Thread {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const thread: Thread = { worker };
    worker.unref();
    worker.on('message', (reply: Reply) => {
      if ('loadError' in reply) {
        thread.settle?.({ error: new Error(`A password-hashing thread could not load its package: ${reply.loadError}`) });
      } else {
        thread.settle?.({ value: reply.hashed ? reply.value : null });
      }
      this.release(thread);
    });
    // An uncaught error in the thread ends it ('exit' follows); without this listener it would be
    // thrown in the main thread.
    worker.on('error', (error) => {
      thread.settle?.({ error: new Error(`A password-hashing thread failed (${errorClass(error)})`) });
    });
    worker.on('messageerror', (error) => {
      thread.settle?.({ error: new Error(`A password-hashing thread's answer could not be read (${errorClass(error)})`) });
      void this.end(thread);
    });
    worker.on('exit', (code) => {
      thread.settle?.({ error: new Error(`A password-hashing thread stopped (exit code ${code})`) });
      this.forget(thread);
    });
    return thread;
  }

  /** The job is done: the thread waits for the next one, unreferenced, until it has been idle too long. */
  private release(thread: Thread): void {
    if (!this.busy.delete(thread)) return;
    thread.worker.unref();
    thread.idleTimer = setTimeout(() => void this.end(thread), IDLE_THREAD_MS).unref();
    this.idle.push(thread);
  }

  private forget(thread: Thread): void {
    clearTimeout(thread.idleTimer);
    this.busy.delete(thread);
    const at = this.idle.indexOf(thread);
    if (at !== -1) this.idle.splice(at, 1);
  }

  private async end(thread: Thread): Promise<void> {
    this.forget(thread);
    await thread.worker.terminate().catch(() => undefined);
  }
}

/** The class of an error, for messages: never its text, which might quote what it was given. */
function errorClass(error: unknown): string {
  return error instanceof Error ? error.name : typeof error;
}

/** The process's pool (see the top of this file). */
export const passwordHashPool = new PasswordHashPool();
