// The project's pages: queues, one queue, its dead letters, its subscriptions.
import htm from 'htm';
import { h } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, currentSession, MESSAGES_PER_PAGE, samplesByQueue } from './api.js';

export const html = htm.bind(h);

/** Every few seconds while the page is open: the live part of the console is polling, nothing more. */
export const POLL_MS = 2000;
/** /metrics reads every queue's depth: read less often than the stats of the queues shown. */
const METRICS_POLL_MS = 5000;
/** Bodies longer than this many characters of pretty JSON are folded. */
const FOLD_CHARS = 400;

/** The claim holding a message: Zaqar puts it in the message's href (`?claim_id=`), not in a field. */
export const claimOf = (message) =>
  message.claim_id ?? new URL(message.href ?? '', location.href).searchParams.get('claim_id');

export const link = (path) => `#${path}`;
export const queuePath = (name, tail = '') => `/queue/${encodeURIComponent(name)}${tail}`;

/** An error as the user sees it: the server's title and description, never a blank page. */
export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<div class="error" role="alert"><strong>${error.title ?? 'Error'}</strong> ${error.message}</div>`;
}

export function Note({ text }) {
  return text ? html`<div class="note" role="status">${text}</div>` : null;
}

/** Runs `load` now and every POLL_MS; answers its last value and last error. */
export function usePolling(load, deps, every = POLL_MS) {
  const [state, setState] = useState({ value: null, error: null, loaded: false });
  const [tick, setTick] = useState(0);
  const refresh = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let stopped = false;
    let timer = null;
    const run = async () => {
      try {
        const value = await load();
        if (!stopped) setState({ value, error: null, loaded: true });
      } catch (error) {
        if (!stopped) setState((old) => ({ value: old.value, error, loaded: true }));
      }
      if (!stopped && every > 0) timer = setTimeout(run, every);
    };
    run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, refresh };
}

/** Runs an action, shows its error or its outcome, and refreshes the page's data after it. */
export function useAction(after) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState('');
  const run = async (action, outcome) => {
    setBusy(true);
    setError(null);
    setDone('');
    try {
      const value = await action();
      setDone(typeof outcome === 'function' ? outcome(value) : (outcome ?? ''));
      after?.();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, done, run };
}

export function age(seconds) {
  if (seconds === undefined || seconds === null) return '–';
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.floor(seconds / 3600)} h`;
  return `${Math.floor(seconds / 86400)} d`;
}

/**
 * The queue's counts from its stats. Zaqar's stats have no delayed count (a delayed message is
 * free there); it comes from /metrics' `posthorn_messages{state="delayed"}` when that is served.
 */
function counts(stats, delayed) {
  const m = stats?.messages ?? {};
  return {
    free: m.free ?? 0,
    claimed: m.claimed ?? 0,
    delayed: delayed ?? null,
    total: m.total ?? 0,
    oldest: m.oldest,
  };
}

/**
 * Posted and deleted per second from two readings of /metrics' counters, and the delayed count.
 * Without /metrics (not served, or not to this user) they are unknown and shown as such, never
 * guessed.
 */
function useRates(names) {
  const last = useRef(null);
  const [rates, setRates] = useState(new Map());
  const project = currentSession()?.project;
  usePolling(
    async () => {
      const text = await api.metrics();
      if (text === null) {
        setRates(new Map());
        return;
      }
      const now = performance.now();
      const posted = samplesByQueue(text, 'posthorn_messages_posted_total');
      const deleted = samplesByQueue(text, 'posthorn_messages_deleted_total');
      const depths = samplesByQueue(text, 'posthorn_messages');
      const before = last.current;
      last.current = { now, posted, deleted };
      const seconds = before ? (now - before.now) / 1000 : 0;
      const next = new Map();
      for (const name of names) {
        const key = `${project}/${name}`;
        const rate = (m, b) => (before && m.has(key) ? Math.max(0, (m.get(key) - (b.get(key) ?? 0)) / seconds) : null);
        next.set(name, {
          posted: rate(posted, before?.posted),
          deleted: rate(deleted, before?.deleted),
          delayed: depths.get(`${key}/delayed`) ?? null,
        });
      }
      setRates(next);
    },
    [names.join('\n')],
    METRICS_POLL_MS,
  );
  return rates;
}

const perSecond = (value) => (value === null || value === undefined ? '–' : value.toFixed(1));

/**
 * Previous and Next over a paged listing: `markers` is the stack of pages already passed (each
 * page's starting marker), `next` the marker the server gave for the page after this one.
 */
function Pager({ markers, setMarkers, setMarker, next }) {
  return html`<div class="pager">
    ${
      markers.length > 0 &&
      html`<button onClick=${() => {
        setMarker(markers.at(-2) ?? null);
        setMarkers(markers.slice(0, -1));
      }}>Previous</button>`
    }
    ${
      next &&
      html`<button onClick=${() => {
        setMarkers([...markers, next]);
        setMarker(next);
      }}>Next</button>`
    }
  </div>`;
}

export function QueuesPage() {
  const [marker, setMarker] = useState(null);
  const [markers, setMarkers] = useState([]);
  const [name, setName] = useState('');
  const list = usePolling(async () => {
    const page = await api.listQueues(marker);
    const queues = page?.queues ?? [];
    // One stats call a queue a poll: the page shows 20 queues at most.
    const stats = await Promise.all(queues.map((queue) => api.stats(queue.name).catch((error) => ({ error }))));
    return { queues, stats, next: queues.length === 20 ? queues[queues.length - 1].name : null };
  }, [marker]);
  const names = (list.value?.queues ?? []).map((queue) => queue.name);
  const rates = useRates(names);
  const create = useAction(list.refresh);
  return html`
    <section>
      <h1>Queues of project <code>${currentSession()?.project}</code></h1>
      <${ErrorNote} error=${list.error} />
      ${
        list.loaded && names.length === 0 && !list.error
          ? html`<p class="note">This project has no queues.</p>`
          : html`
            <table class="queues">
              <thead>
                <tr>
                  <th>Queue</th><th>Free</th><th>Claimed</th><th>Delayed</th><th>Oldest</th>
                  <th title="From /metrics">Posted/s</th><th title="From /metrics">Deleted/s</th>
                </tr>
              </thead>
              <tbody>
                ${(list.value?.queues ?? []).map((queue, i) => {
                  const stats = list.value.stats[i];
                  const rate = rates.get(queue.name) ?? {};
                  const c = counts(stats, rate.delayed);
                  return html`<tr data-queue=${queue.name}>
                    <td><a href=${link(queuePath(queue.name))}>${queue.name}</a></td>
                    ${
                      stats?.error
                        ? html`<td colspan="4" class="error">${stats.error.message}</td>`
                        : html`<td class="free">${c.free}</td><td class="claimed">${c.claimed}</td>
                               <td class="delayed">${c.delayed ?? '–'}</td><td>${age(c.oldest?.age)}</td>`
                    }
                    <td class="posted">${perSecond(rate.posted)}</td><td class="deleted">${perSecond(rate.deleted)}</td>
                  </tr>`;
                })}
              </tbody>
            </table>`
      }
      <${Pager} markers=${markers} setMarkers=${setMarkers} setMarker=${setMarker} next=${list.value?.next} />
      <form class="inline" onSubmit=${(event) => {
        event.preventDefault();
        create.run(() => api.createQueue(name.trim()), `Queue ${name.trim()} created.`);
      }}>
        <label>New queue <input value=${name} onInput=${(e) => setName(e.currentTarget.value)} required /></label>
        <button disabled=${create.busy}>Create</button>
      </form>
      <${ErrorNote} error=${create.error} /><${Note} text=${create.done} />
    </section>`;
}

/** A message body as pretty JSON, folded when it is long. */
function Body({ value }) {
  const text = JSON.stringify(value, null, 2) ?? 'null';
  if (text.length <= FOLD_CHARS) return html`<pre class="body">${text}</pre>`;
  return html`<details class="body"><summary>${text.slice(0, 80).replace(/\s+/g, ' ')}… (${text.length} characters)</summary>
    <pre>${text}</pre></details>`;
}

export function Messages({ queue, refreshKey, onChange, deletable = true, choose }) {
  const [marker, setMarker] = useState(null);
  const [markers, setMarkers] = useState([]);
  const page = usePolling(async () => {
    const answer = await api.messages(queue, marker);
    const messages = answer?.messages ?? [];
    const next = answer?.links?.find((l) => l.rel === 'next')?.href ?? null;
    // Zaqar always links a next page; a short page is the last one.
    const nextMarker =
      next && messages.length === MESSAGES_PER_PAGE ? new URL(next, location.href).searchParams.get('marker') : null;
    return { messages, next: nextMarker };
  }, [queue, marker, refreshKey]);
  const remove = useAction(() => {
    page.refresh();
    onChange?.();
  });
  const messages = page.value?.messages ?? [];
  return html`
    <div>
      <${ErrorNote} error=${page.error} /><${ErrorNote} error=${remove.error} />
      ${page.loaded && messages.length === 0 && !page.error ? html`<p class="note">No messages.</p>` : null}
      <ul class="messages">
        ${messages.map(
          (m) => html`<li class="message" data-id=${m.id}>
            <div class="meta">
              ${choose && html`<input type="checkbox" aria-label=${`choose ${m.id}`} checked=${choose.chosen.has(m.id)} onChange=${() => choose.toggle(m.id)} />`}
              ${' '}<code>${m.id}</code> · age ${age(m.age)} · ttl ${m.ttl} s
              ${claimOf(m) ? html` · <span class="claimed">claimed</span>` : null}
              ${m.claim_count ? html` · claimed ${m.claim_count} times` : null}
              ${' '}${deletable && html`<button class="small" disabled=${remove.busy} onClick=${() => remove.run(() => api.deleteMessage(queue, m.id))}>Delete</button>`}
            </div>
            <${Body} value=${m.body} />
          </li>`,
        )}
      </ul>
      <${Pager} markers=${markers} setMarkers=${setMarkers} setMarker=${setMarker} next=${page.value?.next} />
    </div>`;
}

const RESERVED_KEYS = [
  '_default_message_ttl',
  '_max_messages_post_size',
  '_default_message_delay',
  '_dead_letter_queue',
  '_max_claim_count',
  '_dead_letter_queue_messages_ttl',
  '_retry_policy',
];

/** The queue's metadata as JSON to edit; the server's validation error is shown as it says it. */
function Metadata({ queue, metadata, onSaved }) {
  const [text, setText] = useState('');
  useEffect(() => setText(JSON.stringify(metadata ?? {}, null, 2)), [JSON.stringify(metadata)]);
  const save = useAction(onSaved);
  const submit = (event) => {
    event.preventDefault();
    save.run(async () => {
      let next;
      try {
        next = JSON.parse(text);
      } catch (error) {
        throw Object.assign(new Error(error.message), { title: 'Not JSON' });
      }
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        throw Object.assign(new Error('The metadata must be a JSON object.'), { title: 'Not an object' });
      }
      // Only what changed is sent: the document shows the reserved keys' defaults, and saving
      // them unchanged must not turn a default into a stored value.
      const old = metadata ?? {};
      const gone = Object.keys(old).filter((key) => !(key in next));
      const changed = Object.fromEntries(
        Object.entries(next).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(old[key])),
      );
      if (gone.length > 0) await api.removeMetadataKeys(queue, gone);
      if (Object.keys(changed).length > 0) await api.replaceMetadata(queue, changed);
    }, 'Metadata saved.');
  };
  return html`<form onSubmit=${submit} class="metadata">
    <textarea aria-label="metadata" rows="6" value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
    <p class="hint">Reserved keys: ${RESERVED_KEYS.map((key, i) => html`${i > 0 ? ', ' : ''}<code>${key}</code>`)}.</p>
    <button disabled=${save.busy}>Save metadata</button>
    <${ErrorNote} error=${save.error} /><${Note} text=${save.done} />
  </form>`;
}

/** The claims held on the messages shown: Zaqar has no list of claims, each is read by its id. */
function Claims({ queue, refreshKey }) {
  const claims = usePolling(async () => {
    const answer = await api.messages(queue, null);
    const ids = [...new Set((answer?.messages ?? []).map(claimOf).filter(Boolean))];
    return Promise.all(ids.map((id) => api.claim(queue, id).catch(() => null))).then((all) => all.filter(Boolean));
  }, [queue, refreshKey]);
  const list = claims.value ?? [];
  if (list.length === 0) return html`<p class="note">No claims in force on the first page of messages.</p>`;
  return html`<table><thead><tr><th>Claim</th><th>TTL</th><th>Age</th><th>Messages</th></tr></thead><tbody>
    ${list.map((c) => html`<tr><td><code>${c.id}</code></td><td>${c.ttl} s</td><td>${age(c.age)}</td><td>${c.messages?.length ?? 0}</td></tr>`)}
  </tbody></table>`;
}

function QueueTabs({ name, current }) {
  const tabs = [
    ['', 'Messages'],
    ['/dead-letters', 'Dead letters'],
    ['/subscriptions', 'Subscriptions'],
  ];
  return html`<nav class="tabs">${tabs.map(
    ([tail, label]) =>
      html`<a href=${link(queuePath(name, tail))} class=${current === tail ? 'current' : ''}>${label}</a>`,
  )}</nav>`;
}

function Counts({ stats }) {
  const c = counts(stats, null);
  return html`<dl class="counts">
    <div><dt>Free</dt><dd data-count="free">${c.free}</dd></div>
    <div><dt>Claimed</dt><dd data-count="claimed">${c.claimed}</dd></div>
    <div><dt>Total</dt><dd data-count="total">${c.total}</dd></div>
    <div><dt>Oldest</dt><dd>${age(c.oldest?.age)}</dd></div>
  </dl>`;
}

export function QueuePage({ name }) {
  const [refreshKey, setRefreshKey] = useState(0);
  const bump = () => setRefreshKey((k) => k + 1);
  const stats = usePolling(() => api.stats(name), [name, refreshKey]);
  const meta = usePolling(() => api.metadata(name), [name, refreshKey], 0);
  const [body, setBody] = useState('{"hello": "world"}');
  const [ttl, setTtl] = useState('');
  const post = useAction(bump);
  const purge = useAction(bump);
  const submit = (event) => {
    event.preventDefault();
    post.run(
      async () => {
        let value;
        try {
          value = JSON.parse(body);
        } catch {
          value = body; // Plain text is a JSON string body, as a Zaqar client would send it.
        }
        const answer = await api.postMessage(name, value, ttl === '' ? undefined : Number(ttl));
        return answer?.resources?.[0]?.split('/').at(-1) ?? '';
      },
      (id) => `Posted ${id}.`,
    );
  };
  return html`<section>
    <h1>Queue <code>${name}</code></h1>
    <${QueueTabs} name=${name} current="" />
    <${ErrorNote} error=${stats.error} />
    <${Counts} stats=${stats.value} />
    <h2>Post a message</h2>
    <form onSubmit=${submit} class="post">
      <textarea aria-label="message body" rows="3" value=${body} onInput=${(e) => setBody(e.currentTarget.value)}></textarea>
      <label>TTL (s) <input aria-label="ttl" type="number" min="60" value=${ttl} onInput=${(e) => setTtl(e.currentTarget.value)} /></label>
      <button disabled=${post.busy}>Post</button>
      <${ErrorNote} error=${post.error} /><${Note} text=${post.done} />
    </form>
    <h2>Messages</h2>
    <${Messages} queue=${name} refreshKey=${refreshKey} onChange=${bump} />
    <button class="danger" disabled=${purge.busy} onClick=${() => {
      if (confirm(`Delete every message of ${name}?`)) purge.run(() => api.purge(name), 'Purged.');
    }}>Purge messages</button>
    <${ErrorNote} error=${purge.error} /><${Note} text=${purge.done} />
    <h2>Claims in force</h2>
    <${Claims} queue=${name} refreshKey=${refreshKey} />
    <h2>Metadata</h2>
    <${ErrorNote} error=${meta.error} />
    ${meta.value && html`<${Metadata} queue=${name} metadata=${meta.value} onSaved=${bump} />`}
  </section>`;
}

/** The queue's dead-letter queue (its `_dead_letter_queue`) and the redrive back into the queue. */
export function DeadLettersPage({ name }) {
  const [refreshKey, setRefreshKey] = useState(0);
  const [chosen, setChosen] = useState(new Set());
  const bump = () => setRefreshKey((k) => k + 1);
  const meta = usePolling(() => api.metadata(name), [name], 0);
  const dlq = meta.value?._dead_letter_queue || null;
  const stats = usePolling(async () => (dlq ? api.stats(dlq) : null), [dlq, refreshKey]);
  const redrive = useAction(() => {
    setChosen(new Set());
    bump();
  });
  const toggle = (id) => {
    const next = new Set(chosen);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
  };
  const outcome = (answer) =>
    `Redrove ${answer?.count ?? 0} message(s) into ${name}${answer?.more ? ' (more are left: redrive again)' : ''}.`;
  return html`<section>
    <h1>Dead letters of <code>${name}</code></h1>
    <${QueueTabs} name=${name} current="/dead-letters" />
    <${ErrorNote} error=${meta.error} />
    ${
      meta.loaded &&
      !dlq &&
      !meta.error &&
      html`<p class="note">This queue has no dead-letter queue: set <code>_dead_letter_queue</code> (and${' '}
        <code>_max_claim_count</code>) in its metadata.</p>`
    }
    ${
      dlq &&
      html`<p>Dead-letter queue: <a href=${link(queuePath(dlq))}><code>${dlq}</code></a>,${' '}
        after ${meta.value._max_claim_count ?? '?'} claims.</p>
      <${ErrorNote} error=${stats.error} />
      <${Counts} stats=${stats.value} />
      <div class="actions">
        <button disabled=${redrive.busy || chosen.size === 0} onClick=${() => redrive.run(() => api.redrive(name, [...chosen]), outcome)}>
          Redrive chosen (${chosen.size})</button>
        <button disabled=${redrive.busy} onClick=${() => redrive.run(() => api.redrive(name), outcome)}>Redrive all</button>
      </div>
      <${ErrorNote} error=${redrive.error} /><${Note} text=${redrive.done} />
      <${Messages} queue=${dlq} refreshKey=${refreshKey} onChange=${bump} choose=${{ chosen, toggle }} />`
    }
  </section>`;
}

export function SubscriptionsPage({ name }) {
  // The list has no delivery counts; each subscription's own document has them (delivery_status,
  // Posthorn's addition to Zaqar's), so they are read one by one, as the page shows at most 20.
  const subs = usePolling(async () => {
    const listed = (await api.subscriptions(name))?.subscriptions ?? [];
    return Promise.all(listed.map((s) => api.subscription(name, s.id).catch(() => s)));
  }, [name]);
  const list = subs.value ?? [];
  return html`<section>
    <h1>Subscriptions of <code>${name}</code></h1>
    <${QueueTabs} name=${name} current="/subscriptions" />
    <${ErrorNote} error=${subs.error} />
    ${subs.loaded && list.length === 0 && !subs.error ? html`<p class="note">No subscriptions.</p>` : null}
    ${
      list.length > 0 &&
      html`<table><thead><tr><th>Subscriber</th><th>TTL</th><th>Age</th><th>Confirmed</th><th>Delivered</th><th>Pending</th><th>Failed</th></tr></thead><tbody>
      ${list.map((s) => {
        const d = s.delivery_status ?? {};
        return html`<tr data-subscriber=${s.subscriber}><td><code>${s.subscriber}</code></td><td>${s.ttl}</td><td>${age(s.age)}</td>
          <td>${s.confirmed === false ? 'no' : 'yes'}</td>
          <td>${d.delivered ?? '–'}</td><td>${d.pending ?? '–'}</td><td>${d.failed ?? '–'}</td></tr>`;
      })}
    </tbody></table>`
    }
    <p class="hint">Notifications waiting in the spool are acted on (send now, freeze, remove, recover) on the${' '}
      <a href=${link('/spool')}>Spool</a> page (admin).</p>
  </section>`;
}
