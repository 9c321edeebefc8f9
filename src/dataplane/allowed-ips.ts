// Crypto-key routing (whitepaper §2): which peer owns an inner address. One binary trie per address
// family, longest prefix wins; host bits of inserted CIDRs are cleared. Path compression is left to the
// native fast path: a lookup here walks at most 32 or 128 nodes.
import { formatCidr, maskAddress, parseCidr, type Cidr } from '../wire/ip.js';

interface Node<T> {
  zero: Node<T> | undefined;
  one: Node<T> | undefined;
  /** Present when a CIDR ends here. */
  entry: { value: T } | undefined;
}

function newNode<T>(): Node<T> {
  return { zero: undefined, one: undefined, entry: undefined };
}

function bitAt(addr: Uint8Array, i: number): number {
  return (addr[i >> 3]! >> (7 - (i & 7))) & 1;
}

export class AllowedIps<T> {
  readonly #v4: Node<T> = newNode();
  readonly #v6: Node<T> = newNode();

  #root(addr: Uint8Array): Node<T> | undefined {
    return addr.length === 4 ? this.#v4 : addr.length === 16 ? this.#v6 : undefined;
  }

  /** Maps `cidr` ("10.1.0.0/16", "fd00::/64", or parsed) to `value`, replacing an equal CIDR's value. */
  insert(cidr: string | Cidr, value: T): void {
    const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    const root = c === undefined ? undefined : this.#root(c.addr);
    if (c === undefined || root === undefined || c.prefixLength < 0 || c.prefixLength > c.addr.length * 8) {
      throw new RangeError(`not a CIDR: ${typeof cidr === 'string' ? cidr : 'record'}`);
    }
    const addr = maskAddress(c.addr, c.prefixLength);
    let n = root;
    for (let i = 0; i < c.prefixLength; i++) {
      if (bitAt(addr, i) === 0) n = n.zero ??= newNode();
      else n = n.one ??= newNode();
    }
    n.entry = { value };
  }

  /** Removes one CIDR; true if it was present. */
  remove(cidr: string | Cidr): boolean {
    const c = typeof cidr === 'string' ? parseCidr(cidr) : cidr;
    if (c === undefined) return false;
    const root = this.#root(c.addr);
    if (root === undefined) return false;
    const addr = maskAddress(c.addr, c.prefixLength);
    const path: Node<T>[] = [root];
    let n: Node<T> | undefined = root;
    for (let i = 0; i < c.prefixLength && n !== undefined; i++) {
      n = bitAt(addr, i) === 0 ? n.zero : n.one;
      if (n !== undefined) path.push(n);
    }
    if (n === undefined || n.entry === undefined) return false;
    n.entry = undefined;
    this.#prune(path, addr);
    return true;
  }

  /** Removes every CIDR that maps to `value` (a peer leaving). */
  removeValue(value: T): void {
    const walk = (n: Node<T>): boolean => {
      if (n.entry !== undefined && n.entry.value === value) n.entry = undefined;
      if (n.zero !== undefined && walk(n.zero)) n.zero = undefined;
      if (n.one !== undefined && walk(n.one)) n.one = undefined;
      return n.entry === undefined && n.zero === undefined && n.one === undefined;
    };
    walk(this.#v4);
    walk(this.#v6);
  }

  /** The value of the longest prefix containing `addr` (4 or 16 bytes); undefined when none does. */
  lookup(addr: Uint8Array): T | undefined {
    let n = this.#root(addr);
    if (n === undefined) return undefined;
    let best = n.entry;
    const bits = addr.length * 8;
    for (let i = 0; i < bits; i++) {
      n = ((addr[i >> 3]! >> (7 - (i & 7))) & 1) === 0 ? n.zero : n.one;
      if (n === undefined) break;
      if (n.entry !== undefined) best = n.entry;
    }
    return best?.value;
  }

  /** Every CIDR and its value, IPv4 first, in address order. */
  entries(): { cidr: string; value: T }[] {
    const out: { cidr: string; value: T }[] = [];
    const walk = (n: Node<T>, addr: Uint8Array, depth: number): void => {
      if (n.entry !== undefined) out.push({ cidr: formatCidr({ addr, prefixLength: depth }), value: n.entry.value });
      if (n.zero !== undefined) walk(n.zero, addr, depth + 1);
      if (n.one !== undefined) {
        const a = Uint8Array.from(addr);
        a[depth >> 3]! |= 0x80 >> (depth & 7);
        walk(n.one, a, depth + 1);
      }
    };
    walk(this.#v4, new Uint8Array(4), 0);
    walk(this.#v6, new Uint8Array(16), 0);
    return out;
  }

  #prune(path: Node<T>[], addr: Uint8Array): void {
    for (let i = path.length - 1; i > 0; i--) {
      const n = path[i]!;
      if (n.entry !== undefined || n.zero !== undefined || n.one !== undefined) return;
      const parent = path[i - 1]!;
      if (bitAt(addr, i - 1) === 0) parent.zero = undefined;
      else parent.one = undefined;
    }
  }
}
