import assert from "node:assert/strict";
import {
  checkAddresses,
  defaultRouteInterface,
  lanAddresses,
  parseAddressList,
} from "./addresses.ts";

const IFACES = [
  { name: "lo", family: "IPv4" as const, address: "127.0.0.1" },
  { name: "lo", family: "IPv6" as const, address: "::1" },
  { name: "docker0", family: "IPv4" as const, address: "172.17.0.1" },
  { name: "eth0", family: "IPv4" as const, address: "192.168.1.20" },
  { name: "eth0", family: "IPv6" as const, address: "fe80::1" },
  { name: "eth0", family: "IPv6" as const, address: "2001:db8::20" },
  { name: "wlan0", family: "IPv4" as const, address: "10.0.0.7" },
  { name: "wlan0", family: "IPv4" as const, address: "169.254.3.4" },
];

Deno.test("LAN addresses: IPv4 only by default, no loopback or link-local, default route first", () => {
  assert.deepEqual(lanAddresses(IFACES), ["192.168.1.20", "10.0.0.7", "172.17.0.1"]);
  assert.deepEqual(lanAddresses(IFACES, { defaultInterface: "wlan0" }), [
    "10.0.0.7",
    "192.168.1.20",
    "172.17.0.1",
  ]);
  assert.deepEqual(lanAddresses(IFACES, { ipv6: true }).at(-1), "2001:db8::20");
  assert.deepEqual(lanAddresses(IFACES.filter((i) => i.name === "lo")), []);
});

Deno.test("default route from /proc/net/route", () => {
  const table = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\n" +
    "eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\n" +
    "wlan0\t00000000\t0102000A\t0003\t0\t0\t600\t00000000\n";
  assert.equal(defaultRouteInterface(table), "wlan0");
  assert.equal(defaultRouteInterface("Iface\tDestination\n"), undefined);
});

Deno.test("--lan-address: lists, and only this machine's non-loopback addresses", () => {
  assert.deepEqual(parseAddressList(["10.0.0.7, 192.168.1.20", "10.0.0.7", "[2001:db8::20]"]), [
    "10.0.0.7",
    "192.168.1.20",
    "2001:db8::20",
  ]);
  assert.deepEqual(checkAddresses(["10.0.0.7", "2001:db8::20"], IFACES), []);
  const p = checkAddresses(["0.0.0.0", "127.0.0.1", "10.9.9.9"], IFACES);
  assert.equal(p.length, 3);
  assert.match(p[0], /wildcard/);
  assert.match(p[1], /loopback/);
  assert.match(p[2], /not an address of this machine.*10\.0\.0\.7/);
});
