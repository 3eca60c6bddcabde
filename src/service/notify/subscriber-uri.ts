/**
 * Where a subscriber URI sends notifications. `http` and `https` are webhooks; `trust+http(s)`
 * are webhooks too (Zaqar adds a Keystone trust token to them; Posthorn has no Keystone, so they
 * are posted as they are); `mailto:` is mail through the configured SMTP relay. Anything else
 * (a scheme an operator allowed in `subscriber_types` that nothing here can reach) is refused at
 * delivery, for good.
 */
export type SubscriberTarget =
  | { type: 'webhook'; url: string; authorization: string | null }
  | { type: 'mail'; address: string; subject: string | null }
  | { type: 'unreachable'; reason: string };

export function parseSubscriber(subscriber: string): SubscriberTarget {
  const colon = subscriber.indexOf(':');
  const scheme = colon < 0 ? '' : subscriber.slice(0, colon).toLowerCase();
  if (scheme === 'http' || scheme === 'https' || scheme === 'trust+http' || scheme === 'trust+https') {
    let url: URL;
    try {
      url = new URL(scheme.startsWith('trust+') ? subscriber.slice('trust+'.length) : subscriber);
    } catch {
      return { type: 'unreachable', reason: `the subscriber ${subscriber} is not a URL` };
    }
    let authorization: string | null = null;
    if (url.username !== '' || url.password !== '') {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    url.hash = '';
    return { type: 'webhook', url: url.href, authorization };
  }
  if (scheme === 'mailto') {
    const rest = subscriber.slice(colon + 1);
    const q = rest.indexOf('?');
    let address: string;
    try {
      address = decodeURIComponent(q < 0 ? rest : rest.slice(0, q)).trim();
    } catch {
      return { type: 'unreachable', reason: `the subscriber ${subscriber} is not a mailto URI` };
    }
    if (!/^[^\s@<>,]+@[^\s@<>,]+$/.test(address)) {
      return { type: 'unreachable', reason: `the subscriber ${subscriber} names no mail address` };
    }
    let subject: string | null = null;
    if (q >= 0) {
      // Zaqar reads the query with parse_qs and lower-cases the names.
      for (const [name, value] of new URLSearchParams(rest.slice(q + 1))) {
        if (name.toLowerCase() === 'subject') {
          subject = value;
          break;
        }
      }
    }
    return { type: 'mail', address, subject };
  }
  return { type: 'unreachable', reason: `no delivery method for ${scheme === '' ? 'this subscriber' : `${scheme}:`}` };
}
