// The admin pages: the notification spool, pools, flavors and queue moves. They send the admin
// token the user signed in with; without one the server refuses them and the page says so.
import { useState } from 'preact/hooks';
import { api, currentSession } from './api.js';
import { age, ErrorNote, html, Note, useAction, usePolling } from './pages.js';

function NeedsAdmin() {
  return currentSession()?.adminToken
    ? null
    : html`<p class="note">These pages need the admin token: sign in again with it.</p>`;
}

/**
 * The entry's outcome of the last action on it: the server answers {done, failed} for a batch;
 * the console sends one id at a time, so a failure is this entry's and is shown as an error.
 */
async function spoolAction(action, id, extra) {
  const answer = await api.spoolAction(action, [id], extra);
  const failed = answer?.failed?.[0];
  if (failed) throw Object.assign(new Error(failed.message), { title: failed.code });
  return answer;
}

/** Entries of the notification spool with send now, freeze, remove and recover. */
export function SpoolPage() {
  const spool = usePolling(() => api.spoolEntries(), []);
  const act = useAction(spool.refresh);
  const entries = spool.value?.messages ?? [];
  const busy = new Set((spool.value?.busy ?? []).map((b) => b.id));
  const counts = spool.value?.counts ?? null;
  const button = (entry, action, label, extra) =>
    html`<button class="small" disabled=${act.busy} onClick=${() => act.run(() => spoolAction(action, entry.id, extra), `${label}: ${entry.id}.`)}>${label}</button>`;
  const recipients = (e) =>
    (e.recipients ?? []).map(
      (r) => html`<div><code>${r.address}</code> <span class=${`r-${r.state}`}>${r.state}</span></div>`,
    );
  return html`<section>
    <h1>Notification spool</h1>
    <${NeedsAdmin} />
    <${ErrorNote} error=${spool.error} /><${ErrorNote} error=${act.error} /><${Note} text=${act.done} />
    ${
      counts &&
      html`<p class="spool-counts">${Object.entries(counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(' · ')}</p>`
    }
    ${spool.loaded && entries.length === 0 && !spool.error ? html`<p class="note">The spool is empty.</p>` : null}
    ${
      entries.length > 0 &&
      html`<table class="spool"><thead><tr><th>Entry</th><th>State</th><th>Recipients</th><th>Attempts</th><th>Next try</th><th>Last error</th><th></th></tr></thead><tbody>
      ${entries.map(
        (e) => html`<tr data-entry=${e.id}>
          <td><code>${e.id}</code></td>
          <td class="state">${busy.has(e.id) ? 'sending' : e.state}</td>
          <td>${recipients(e)}</td><td>${e.attempts ?? 0}</td>
          <td>${e.next_attempt ?? '–'}</td><td>${e.last_error ?? e.frozen_reason ?? e.quarantine_reason ?? ''}</td>
          <td class="actions">
            ${e.state !== 'removed' && e.state !== 'quarantined' ? button(e, 'send', 'Send now') : null}
            ${e.state === 'send-now' || e.state === 'send-at' ? button(e, 'freeze', 'Freeze', { reason: 'frozen in the console' }) : null}
            ${e.state === 'frozen' ? button(e, 'remove', 'Remove') : null}
            ${e.state === 'removed' ? button(e, 'recover', 'Recover', { from: 'removed' }) : null}
            ${e.state === 'quarantined' ? button(e, 'recover', 'Recover', { from: 'quarantined' }) : null}
          </td>
        </tr>`,
      )}
    </tbody></table>`
    }
  </section>`;
}

/** A move's progress, polled while it runs. */
function MoveProgress({ queue }) {
  const move = usePolling(() => api.moveStatus(queue), [queue]);
  const m = move.value;
  if (move.error) return html`<${ErrorNote} error=${move.error} />`;
  if (!m) return html`<p class="note">Reading the move…</p>`;
  // `source` is what is left in the old pool (free, claimed, delayed) when last counted.
  const copied = m.copied ?? 0;
  const left = (m.source?.free ?? 0) + (m.source?.claimed ?? 0) + (m.source?.delayed ?? 0);
  const share = m.status === 'done' ? 100 : copied + left > 0 ? Math.round((copied / (copied + left)) * 100) : 0;
  return html`<div class="move" data-status=${m.status}>
    <p><code>${m.queue}</code>: ${m.from} → ${m.to}, <strong class="move-status">${m.status}</strong> (${m.step}),${' '}
      ${copied} copied, ${left} left in ${m.from}</p>
    <progress max="100" value=${share}>${share}%</progress>
    ${m.error ? html`<div class="error">${m.error}</div>` : null}
  </div>`;
}

export function PoolsPage() {
  const pools = usePolling(() => api.pools(), []);
  const flavors = usePolling(() => api.flavors(), [], 0);
  const [queue, setQueue] = useState('');
  const [pool, setPool] = useState('');
  const [moving, setMoving] = useState(null);
  const start = useAction();
  const list = pools.value?.pools ?? [];
  return html`<section>
    <h1>Pools, flavors and moves</h1>
    <${NeedsAdmin} />
    <h2>Pools</h2>
    <${ErrorNote} error=${pools.error} />
    ${
      list.length > 0 &&
      html`<table><thead><tr><th>Pool</th><th>URI</th><th>Weight</th><th>Flavor</th></tr></thead><tbody>
      ${list.map((p) => html`<tr><td>${p.name}</td><td><code>${p.uri ?? '–'}</code></td><td>${p.weight}</td><td>${p.flavor ?? '–'}</td></tr>`)}
    </tbody></table>`
    }
    <h2>Flavors</h2>
    <${ErrorNote} error=${flavors.error} />
    <ul>${(flavors.value?.flavors ?? []).map((f) => html`<li><code>${f.name}</code>: ${(f.pool_list ?? []).join(', ')}</li>`)}</ul>
    <h2>Move a queue of <code>${currentSession()?.project}</code></h2>
    <form class="inline" onSubmit=${(event) => {
      event.preventDefault();
      const name = queue.trim();
      start.run(async () => {
        await api.startMove(name, pool);
        setMoving(name);
      }, `Move of ${name} started.`);
    }}>
      <label>Queue <input value=${queue} onInput=${(e) => setQueue(e.currentTarget.value)} required /></label>
      <label>To pool <select value=${pool} onChange=${(e) => setPool(e.currentTarget.value)} required>
        <option value="">choose</option>
        ${list.map((p) => html`<option value=${p.name}>${p.name}</option>`)}
      </select></label>
      <button disabled=${start.busy}>Start move</button>
    </form>
    <${ErrorNote} error=${start.error} /><${Note} text=${start.done} />
    ${moving && html`<${MoveProgress} queue=${moving} />`}
    <p class="hint">Ages are shown as ${age(90)}, ${age(600)}…; moves run in the server that took them.</p>
  </section>`;
}
