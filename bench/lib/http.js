// A tiny keep-alive HTTP client for the bench's setup and correctness checks (autocannon drives the load).
import http from 'node:http';

/** One client = one keep-alive connection, as a browser tab with its cookie. */
export function client(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    request(method, path, cookie) {
      return new Promise((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method, path, agent, headers: cookie ? { cookie } : {} },
          (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
              const body = Buffer.concat(chunks).toString('utf8');
              const setCookie = res.headers['set-cookie'];
              resolve({ status: res.statusCode, body, setCookie: setCookie?.[0]?.split(';')[0] });
            });
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
        req.end();
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** The counter the server holds for `cookie` (GET /read). */
export async function readCounter(c, cookie) {
  const res = await c.request('GET', '/read', cookie);
  if (res.status !== 200) throw new Error(`GET /read answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body).counter;
}
