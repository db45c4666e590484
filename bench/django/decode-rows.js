// Decodes every django_session row of a sqlite file with the library's SessionCodec (dist/, so
// `npm run build` first): node bench/django/decode-rows.js FILE.sqlite3
// Prints key, expire_date, the decode status and the data: what our module would read.
import Database from 'better-sqlite3';
import { SessionCodec } from '../../dist/src/index.js';

const codec = new SessionCodec({ secretKey: 'bench-secret' });
const rows = new Database(process.argv[2], { readonly: true }).prepare('SELECT * FROM django_session ORDER BY session_key').all();
for (const r of rows) {
  const d = codec.decode(r.session_data);
  console.log(r.session_key, r.expire_date, d.status, JSON.stringify(d.data).slice(0, 100));
}
