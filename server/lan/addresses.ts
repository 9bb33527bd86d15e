/**
 * Which addresses the LAN reach listens on: by default every IPv4 address of this machine that
 * another device could reach (not loopback, not link-local 169.254/16), one listener each, so a
 * request's Host can be checked against the one address its listener serves; or exactly the ones
 * given with --lan-address (tests use it to stay off the machine's real interfaces). Never a
 * wildcard: 0.0.0.0 would serve every interface present and future under one Host rule.
 *
 * The first address is the one the QR code shows: the interface of the default route when the
 * route table says (a phone on the Wi-Fi reaches that one), then physical-looking interfaces
 * before bridges and tunnels of containers and VMs.
 */
import { isLoopbackAddress } from "../http/guard.ts";

export interface InterfaceAddress {
  name: string;
  family: "IPv4" | "IPv6";
  address: string;
}

const VIRTUAL = /^(docker|br-|veth|virbr|vmnet|vboxnet|lxc|lxd|cni|flannel|podman|tun|tap|zt)/;

function isLinkLocal(a: string): boolean {
  return /^169\.254\./.test(a) || /^fe[89ab][0-9a-f]:/i.test(a);
}

function isIPv4(a: string): boolean {
  return /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(a) &&
    a.split(".").every((p) => Number(p) <= 255);
}

/** Global unicast IPv6 (2000::/3): reachable beyond the link, unlike fe80:: and fc00::/7. */
function isGlobalIPv6(a: string): boolean {
  return /^[23][0-9a-f]{0,3}:/i.test(a);
}

/** The interface of the default route in Linux's /proc/net/route text, if there is one. */
export function defaultRouteInterface(procNetRoute: string): string | undefined {
  for (const line of procNetRoute.split("\n").slice(1)) {
    const [iface, destination, , , , , , mask] = line.trim().split(/\s+/);
    if (destination === "00000000" && mask === "00000000") return iface;
  }
  return undefined;
}

/** LAN addresses to listen on, QR address first. IPv6 only when asked (global ones only). */
export function lanAddresses(
  ifaces: InterfaceAddress[],
  o: { ipv6?: boolean; defaultInterface?: string } = {},
): string[] {
  const usable = ifaces.filter((i) =>
    !isLoopbackAddress(i.address) && !isLinkLocal(i.address) &&
    (i.family === "IPv4" ? isIPv4(i.address) : o.ipv6 === true && isGlobalIPv6(i.address))
  );
  const rank = (i: InterfaceAddress) =>
    (i.name === o.defaultInterface ? 0 : VIRTUAL.test(i.name) ? 2 : 1) +
    (i.family === "IPv6" ? 3 : 0);
  const sorted = usable.map((i, n) => ({ i, n })).sort((a, b) =>
    rank(a.i) - rank(b.i) || a.n - b.n
  );
  return [...new Set(sorted.map(({ i }) => i.address))];
}

/** `--lan-address` values, repeated and/or comma-separated, trimmed, without duplicates. */
export function parseAddressList(values: string[]): string[] {
  const out = values.flatMap((v) => v.split(",")).map((s) => s.trim().replace(/^\[|\]$/g, ""));
  return [...new Set(out.filter(Boolean))];
}

/** Problems with explicit addresses (empty when all are fine), as sentences. */
export function checkAddresses(addresses: string[], ifaces: InterfaceAddress[]): string[] {
  const own = new Set(ifaces.map((i) => i.address.toLowerCase()));
  const problems: string[] = [];
  for (const a of addresses) {
    if (a === "0.0.0.0" || a === "::") {
      problems.push(`${a}: a wildcard would serve every interface; name the addresses instead`);
    } else if (isLoopbackAddress(a)) {
      problems.push(`${a}: loopback is always served; --lan-address names LAN addresses`);
    } else if (!own.has(a.toLowerCase())) {
      const have = lanAddresses(ifaces, { ipv6: true }).join(", ") || "none";
      problems.push(`${a}: not an address of this machine (LAN addresses here: ${have})`);
    }
  }
  return problems;
}
