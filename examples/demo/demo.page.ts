/** One page with a form for each demo view; answers are shown below it. */
export const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nestjs-django-session demo</title>
<style>body{font:15px system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}
form{display:inline-block;margin:.3rem .6rem .3rem 0}fieldset{margin:1rem 0;border:1px solid #ccc}
pre{background:#f4f4f4;padding:.8rem;white-space:pre-wrap}input:not([type=checkbox]){width:8rem}</style></head>
<body><h1>Django sessions, on NestJS</h1>
<p>Each form calls one view of Django's "How to use sessions", rebuilt with <code>@Session()</code>.
The <code>sessionid</code> cookie holds only the key; the data lives in <code>django_session</code>.
The Passport login checks Django's <code>auth_user</code> and writes Django's login keys: Django on the same sqlite file sees <code>request.user</code>.</p>
<fieldset><legend>Post a comment (once)</legend>
<form data-path="/comment" data-method="POST"><input name="comment" value="Hello"> <button>Post</button></form></fieldset>
<fieldset><legend>Members (ada / lovelace)</legend>
<form data-path="/login" data-method="POST"><input name="username" value="ada"> <input name="password" value="lovelace"> <label><input type="checkbox" name="remember"> Remember me</label> <button>Log in</button></form>
<form data-path="/logout" data-method="POST"><button>Log out</button></form>
<form data-path="/flush" data-method="POST"><button>Flush session</button></form></fieldset>
<fieldset><legend>Passport login that Django honours (auth_user: ada / lovelace)</legend>
<form data-path="/passport/login" data-method="POST"><input name="username" value="ada"> <input name="password" value="lovelace"> <button>Log in with Passport</button></form>
<form data-path="/passport/me" data-method="GET"><button>Who am I</button></form>
<form data-path="/passport/logout" data-method="POST"><button>Log out</button></form></fieldset>
<fieldset><legend>Test cookie login</legend>
<form data-path="/cookie-login" data-method="GET"><button>1. Show form (sets test cookie)</button></form>
<form data-path="/cookie-login" data-method="POST"><button>2. Log in</button></form></fieldset>
<fieldset><legend>Favourite colour</legend>
<form data-path="/color" data-method="GET"><button>Get</button></form>
<form data-path="/color" data-method="POST"><input name="color" value="blue"> <button>Set</button></form>
<form data-path="/color" data-method="DELETE"><button>Delete</button></form></fieldset>
<h2>Answer</h2><pre id="answer">–</pre><h2>Session now</h2><pre id="session">–</pre>
<script>
async function show() { document.getElementById('session').textContent = JSON.stringify(await (await fetch('/session')).json(), null, 2); }
for (const form of document.querySelectorAll('form')) form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const method = form.dataset.method, body = method === 'GET' ? undefined : JSON.stringify(Object.fromEntries(new FormData(form)));
  const res = await fetch(form.dataset.path, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
  const answer = res.status + ' ' + await res.text();
  await show();
  document.getElementById('answer').textContent = answer;
});
show();
</script></body></html>`;
