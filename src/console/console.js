// The console's frame: sign-in, navigation, and the page for the location's hash. Hash routes
// keep every page one static file the server can serve as it is, with no server-side routing.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { PoolsPage, SpoolPage } from './admin-pages.js';
import { clearSession, currentSession, saveSession, useSession } from './api.js';
import { DeadLettersPage, html, link, QueuePage, QueuesPage, SubscriptionsPage } from './pages.js';

function SignIn({ onSignIn }) {
  const wanted = new URLSearchParams(location.search).get('project');
  const [project, setProject] = useState(wanted ?? currentSession()?.project ?? '');
  const [token, setToken] = useState('');
  const [adminToken, setAdminToken] = useState('');
  return html`<section class="signin">
    <h1>Posthorn console</h1>
    <form onSubmit=${(event) => {
      event.preventDefault();
      onSignIn(saveSession({ project: project.trim(), token: token.trim(), adminToken: adminToken.trim() }));
    }}>
      <label>Project <input name="project" value=${project} onInput=${(e) => setProject(e.currentTarget.value)} placeholder="the X-Project-ID" /></label>
      <label>Token or API key <input name="token" type="password" autocomplete="off" value=${token} onInput=${(e) => setToken(e.currentTarget.value)} placeholder="none in noauth mode" /></label>
      <label>Admin token <input name="admin-token" type="password" autocomplete="off" value=${adminToken} onInput=${(e) => setAdminToken(e.currentTarget.value)} placeholder="for the admin pages" /></label>
      <button>Sign in</button>
    </form>
    <p class="hint">The console calls the server's own API with these credentials; they stay in this tab.</p>
  </section>`;
}

function route(hash) {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  if (parts[0] === 'queue' && parts[1]) {
    const name = parts[1];
    if (parts[2] === 'dead-letters') return html`<${DeadLettersPage} name=${name} key=${`d${name}`} />`;
    if (parts[2] === 'subscriptions') return html`<${SubscriptionsPage} name=${name} key=${`s${name}`} />`;
    return html`<${QueuePage} name=${name} key=${`q${name}`} />`;
  }
  if (parts[0] === 'spool') return html`<${SpoolPage} />`;
  if (parts[0] === 'pools') return html`<${PoolsPage} />`;
  return html`<${QueuesPage} />`;
}

function Console() {
  const [session, setSession] = useState(currentSession());
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  const wanted = new URLSearchParams(location.search).get('project');
  if (!session || (wanted && wanted !== session.project)) {
    return html`<${SignIn} onSignIn=${(next) => {
      useSession(next);
      setSession(next);
    }} />`;
  }
  return html`
    <header>
      <a class="brand" href=${link('/queues')}>Posthorn</a>
      <nav>
        <a href=${link('/queues')}>Queues</a>
        <a href=${link('/spool')}>Spool</a>
        <a href=${link('/pools')}>Pools</a>
      </nav>
      <span class="who">project <code>${session.project || '(default)'}</code>${session.adminToken ? ' · admin' : ''}</span>
      <button class="small" onClick=${() => {
        clearSession();
        useSession(null);
        setSession(null);
      }}>Sign out</button>
    </header>
    <main>${route(hash)}</main>`;
}

// Preact adds to the container's children; the "Loading" line goes first.
const root = document.getElementById('app');
root.replaceChildren();
render(html`<${Console} />`, root);
