import { lookup as dnsLookup } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { RequestRefusedError, TITLES } from '../errors.js';

/** Resolves a host name to its addresses (all of them, IPv4 and IPv6). Injectable for tests. */
export type HostResolver = (host: string) => Promise<string[]>;

export interface DestinationPolicyOptions {
  /** Networks (CIDR, or a single address) and host names webhooks may reach even where `deny` or the default would refuse. */
  allow?: readonly string[];
  /** Networks (CIDR, or a single address) and host names webhooks may not reach. */
  deny?: readonly string[];
  /**
   * Refuse every address that is not public unicast: loopback, private, link-local (the cloud
   * metadata address 169.254.169.254 among them), unique-local, carrier-grade NAT, unspecified
   * (0.0.0.0, ::), multicast, broadcast, reserved, and the IPv6 forms that embed an IPv4 address.
   */
  denyPrivate: boolean;
  resolve?: HostResolver;
}

/**
 * A webhook destination the policy refuses. It is a RequestRefusedError, so a subscription whose
 * subscriber is refused answers 400 with Zaqar's body; at delivery it is a failure for good.
 */
export class DestinationDeniedError extends RequestRefusedError {
  constructor(
    readonly host: string,
    readonly address: string | null,
    why: string,
  ) {
    super(
      'subscriber',
      address === null || address === host
        ? `The subscriber's host ${host} ${why}.`
        : `The subscriber's host ${host} resolves to ${address}, which ${why}.`,
      TITLES.api,
    );
  }
}

type Network = [ipaddr.IPv4 | ipaddr.IPv6, number];

const systemResolve: HostResolver = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses.map((a) => a.address));
    });
  });

/** Host names compare without case and without the root's trailing dot (`LocalHost.` is `localhost`). */
function canonicalName(host: string): string {
  return host.toLowerCase().replace(/\.$/, '');
}

/** An address as ipaddr.js reads it; an IPv4-mapped IPv6 address (::ffff:127.0.0.1) is its IPv4 address. */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 {
  return ipaddr.process(address.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
}

function inNetwork(address: ipaddr.IPv4 | ipaddr.IPv6, [base, bits]: Network): boolean {
  if (address.kind() === base.kind()) return address.match(base, bits);
  // An IPv4 address against an IPv6 network is its mapped form (::ffff:a.b.c.d).
  if (address.kind() === 'ipv4' && base.kind() === 'ipv6') {
    return (address as ipaddr.IPv4).toIPv4MappedAddress().match(base, bits);
  }
  return false;
}

/**
 * Where webhooks may go (`[notification] allow_destinations`, `deny_destinations` and the
 * private-range default). Without it, any client could make the server POST, with a path and
 * headers of its choosing, to anything the server reaches: its loopback, its private network,
 * the cloud's metadata service.
 *
 * An entry is a network (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`) or a host name (`hooks.example.org`,
 * or `.example.org` for it and every name under it). Allow wins over deny, so a trusted set-up can
 * open one internal network or host inside the default's refusal. A host name on the allow list
 * is reached whatever it resolves to; otherwise every address the name resolves to must pass
 * (a name with one public and one private address is refused: which one is used is up to the
 * resolver, hence the attacker).
 *
 * A check at subscription time is advice, not protection: DNS may answer differently when the
 * webhook is sent. So delivery checks again, in the connection's own lookup (`connectLookup`):
 * the socket connects only to an address that was checked in that very lookup, and a name that
 * now resolves into a denied network never gets a connection.
 */
export class DestinationPolicy {
  private readonly allowNetworks: Network[] = [];
  private readonly denyNetworks: Network[] = [];
  private readonly allowNames: string[] = [];
  private readonly denyNames: string[] = [];
  private readonly denyPrivate: boolean;
  private readonly resolve: HostResolver;

  constructor(options: DestinationPolicyOptions) {
    this.denyPrivate = options.denyPrivate;
    this.resolve = options.resolve ?? systemResolve;
    for (const [entries, networks, names] of [
      [options.allow ?? [], this.allowNetworks, this.allowNames],
      [options.deny ?? [], this.denyNetworks, this.denyNames],
    ] as const) {
      for (const entry of entries) {
        const network = parseNetwork(entry);
        if (network === null) names.push(canonicalName(entry));
        else networks.push(network);
      }
    }
  }

  /** True when the policy refuses nothing: delivery skips every check. */
  get open(): boolean {
    return !this.denyPrivate && this.denyNetworks.length === 0 && this.denyNames.length === 0;
  }

  /**
   * Checks a webhook URL's host, resolving a name: resolves when it may be reached, else throws
   * DestinationDeniedError (or the resolver's error when a name does not resolve).
   */
  async checkUrl(url: string): Promise<void> {
    if (this.open) return;
    const host = hostOf(url);
    const literal = this.checkLiteral(host);
    if (literal !== 'name') return;
    if (this.nameAllowed(host)) return;
    this.checkAddresses(host, await this.resolve(canonicalName(host)));
  }

  /**
   * For a URL whose host is an address, the check (nothing to resolve: the connection goes to it);
   * 'name' when the host is a name, whose check is the lookup's or checkUrl's. Throws
   * DestinationDeniedError when refused.
   */
  checkLiteral(host: string): 'allowed' | 'name' {
    const bare = host.replace(/^\[|\]$/g, '');
    if (isIP(bare) === 0) {
      if (this.nameDenied(host)) throw new DestinationDeniedError(host, null, 'is on notification.deny_destinations');
      return 'name';
    }
    this.checkAddresses(host, [bare]);
    return 'allowed';
  }

  /**
   * A `lookup` for net.connect/tls.connect (undici's `connect` option): resolves with the policy's
   * resolver, refuses the connection when an address is denied, and hands the socket only the
   * addresses it checked — so what was checked is what is connected to.
   */
  connectLookup(): LookupFunction {
    return (hostname, options, callback) => {
      const all = (options as { all?: boolean }).all === true;
      const family = (options as { family?: number | string }).family;
      const wanted = family === 4 || family === 'IPv4' ? 4 : family === 6 || family === 'IPv6' ? 6 : 0;
      this.resolve(canonicalName(hostname))
        .then((found) => {
          if (!this.nameAllowed(hostname)) this.checkAddresses(hostname, found);
          const addresses = found
            .map((address) => ({ address, family: isIP(address) }))
            .filter((a) => a.family !== 0 && (wanted === 0 || a.family === wanted));
          if (addresses.length === 0) {
            const error = Object.assign(new Error(`${hostname} has no address of the wanted family`), {
              code: 'ENOTFOUND',
            });
            callback(error, all ? [] : '', 0);
            return;
          }
          if (all) callback(null, addresses);
          else
            callback(null, (addresses[0] as { address: string }).address, (addresses[0] as { family: number }).family);
        })
        .catch((error: NodeJS.ErrnoException) => callback(error, all ? [] : '', 0));
    };
  }

  private checkAddresses(host: string, addresses: readonly string[]): void {
    if (addresses.length === 0) throw new DestinationDeniedError(host, null, 'resolves to no address');
    for (const text of addresses) {
      let address: ipaddr.IPv4 | ipaddr.IPv6;
      try {
        address = parseAddress(text);
      } catch {
        throw new DestinationDeniedError(host, text, 'is not an address');
      }
      if (this.allowNetworks.some((n) => inNetwork(address, n))) continue;
      if (this.denyNetworks.some((n) => inNetwork(address, n))) {
        throw new DestinationDeniedError(host, text, 'is in a network on notification.deny_destinations');
      }
      // ipaddr.js names every special range; only public unicast is left to reach.
      if (this.denyPrivate && address.range() !== 'unicast') {
        throw new DestinationDeniedError(
          host,
          text,
          `is a ${address.range()} address, which subscribers may not reach (add it to notification.allow_destinations to allow it)`,
        );
      }
    }
  }

  private nameAllowed(host: string): boolean {
    return matchesName(this.allowNames, host);
  }

  private nameDenied(host: string): boolean {
    return matchesName(this.denyNames, host) && !this.nameAllowed(host);
  }
}

function matchesName(names: readonly string[], host: string): boolean {
  if (names.length === 0) return false;
  const name = canonicalName(host);
  return names.some((entry) =>
    entry.startsWith('.') ? name === entry.slice(1) || name.endsWith(entry) : name === entry,
  );
}

/** A network entry (`10.0.0.0/8`, `::1`, `192.0.2.7`); null when the entry is a host name. */
export function parseNetwork(entry: string): Network | null {
  const text = entry.trim();
  if (text.includes('/')) {
    if (!ipaddr.isValidCIDR(text)) throw new RangeError(`${JSON.stringify(entry)} is not a network (CIDR)`);
    const [base, bits] = ipaddr.parseCIDR(text);
    // An IPv4-mapped network (::ffff:10.0.0.0/104) is the IPv4 network it maps.
    if (base.kind() === 'ipv6' && (base as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      return [(base as ipaddr.IPv6).toIPv4Address(), bits - 96];
    }
    return [base, bits];
  }
  if (isIP(text.replace(/^\[|\]$/g, '')) !== 0) {
    const address = parseAddress(text);
    return [address, address.kind() === 'ipv4' ? 32 : 128];
  }
  if (!/^\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?$/i.test(text)) {
    throw new RangeError(`${JSON.stringify(entry)} is neither a network (CIDR) nor a host name`);
  }
  return null;
}

/** A URL's host as the WHATWG parser normalised it (`http://2130706433/` is 127.0.0.1; IPv6 in brackets). */
function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    throw new DestinationDeniedError(url, null, 'is not in a URL');
  }
}
