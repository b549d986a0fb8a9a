import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { Agent, type Dispatcher } from 'undici';
import { PermanentError } from '../core/index.ts';

/** The reason set on the `PermanentError` of a refused request. */
export const OUTBOUND_BLOCKED = 'outbound_blocked';

type Address = ipaddr.IPv4 | ipaddr.IPv6;
type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Decides which hosts a plugin's outbound request may reach. Only public
 * unicast addresses are allowed by default: loopback, private, link-local
 * (cloud metadata at 169.254.169.254), CGNAT, unique-local, multicast,
 * reserved and every other special range are refused unless the allow-list
 * names them.
 *
 * A request is checked three times: its URL before anything is sent (an
 * address literal in any notation, or every address its host name resolves
 * to), again at connect time by the dispatcher's own DNS lookup (so a name
 * that resolves to a public address for the check and to a private one for
 * the connection is still refused), and again on every redirect.
 */
export class OutboundGuard {
  private readonly cidrs: [Address, number][] = [];
  private readonly hosts = new Set<string>();
  private readonly suffixes: string[] = [];

  /** Pass to undici's `fetch` as `dispatcher`; its connections are checked too. */
  readonly dispatcher: Dispatcher;

  /** @param allow CIDRs (`10.0.0.0/8`), addresses (`::1`), host names (`localhost`) or `*.suffix`. */
  constructor(readonly allow: readonly string[] = []) {
    for (const entry of allow) this.allowEntry(entry.trim().toLowerCase());
    this.dispatcher = new Agent({ connect: { lookup: this.lookup } });
  }

  /** Resolves when `url` may be requested; throws a `PermanentError` when it may not. */
  async check(url: URL): Promise<void> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw refused(`${url.protocol} URLs are not allowed; use http or https`);
    }

    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    if (this.allowsHost(host)) return;
    if (isIP(host)) return this.checkAddress(host, host);

    const addresses = await resolveAll(host);
    for (const address of addresses) this.checkAddress(address, host);
  }

  /** Closes the dispatcher's pooled connections. */
  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** The `lookup` the dispatcher connects with: resolves, then refuses what `check` would. */
  private readonly lookup = (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      try {
        if (!this.allowsHost(hostname.toLowerCase())) {
          for (const { address } of addresses) this.checkAddress(address, hostname);
        }
      } catch (refusal) {
        return callback(refusal as NodeJS.ErrnoException, []);
      }
      if (options.all) return callback(null, addresses);
      callback(null, addresses[0].address, addresses[0].family);
    });
  };

  private checkAddress(text: string, host: string): void {
    if (!ipaddr.isValid(text)) throw refused(`${host} resolved to an unreadable address ${text}`);
    // `process` turns an IPv4-mapped IPv6 address (::ffff:127.0.0.1) into the IPv4 one.
    const address = ipaddr.process(text);
    if (this.cidrs.some(([net, bits]) => address.kind() === net.kind() && address.match(net, bits))) return;

    const range = address.range();
    if (range !== 'unicast') {
      const shown = host === text ? text : `${host} (${text})`;
      throw refused(`${shown} is a ${range} address; add it to outbound.allow to reach it`);
    }
  }

  private allowsHost(host: string): boolean {
    return this.hosts.has(host) || this.suffixes.some((suffix) => host.endsWith(suffix));
  }

  private allowEntry(entry: string): void {
    if (ipaddr.isValidCIDR(entry)) {
      const [net, bits] = ipaddr.parseCIDR(entry);
      this.cidrs.push([net, bits]);
      if (net.kind() === 'ipv6' && (net as ipaddr.IPv6).isIPv4MappedAddress()) {
        this.cidrs.push([(net as ipaddr.IPv6).toIPv4Address(), Math.max(0, bits - 96)]);
      }
    } else if (ipaddr.isValid(entry)) {
      const address = ipaddr.process(entry);
      this.cidrs.push([address, address.kind() === 'ipv4' ? 32 : 128]);
    } else if (entry.startsWith('*.')) {
      this.suffixes.push(entry.slice(1));
    } else {
      this.hosts.add(entry);
    }
  }
}

/** The first `PermanentError` in an error's cause chain: how a refusal at connect time surfaces. */
export function blockedCause(err: unknown): PermanentError | undefined {
  for (let e = err as { name?: string; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.name === 'PermanentError') return e as PermanentError;
    e = e.cause as typeof e;
  }
  return undefined;
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address))));
  });
}

function refused(message: string): PermanentError {
  return new PermanentError(`outbound request refused: ${message}`, { reason: OUTBOUND_BLOCKED });
}
