import assert from "node:assert/strict";
import { iceServersKey, parseIceServerLinks } from "./link_header.ts";

Deno.test("LiveKit's Link headers become ICE servers", () => {
  // As LiveKit writes them: Go url.PathEscape on the URL, TURN credentials as parameters, and
  // several headers joined by fetch() with ", ".
  const header = [
    '<stun:stun.l.google.com:19302>; rel="ice-server"',
    '<turn:203.0.113.7:3478%3Ftransport=udp>; rel="ice-server"; credential="p,w;d"; ' +
    'username="1700000000:PA_x"',
    '<turns:turn.example.org:443%3Ftransport=tcp>; rel="ice-server"; username="u"; ' +
    'credential="c"',
    '<https://example.org/other>; rel="preconnect"',
  ].join(", ");
  assert.deepEqual(parseIceServerLinks(header), [
    { urls: "stun:stun.l.google.com:19302" },
    {
      urls: "turn:203.0.113.7:3478?transport=udp",
      username: "1700000000:PA_x",
      credential: "p,w;d",
    },
    { urls: "turns:turn.example.org:443?transport=tcp", username: "u", credential: "c" },
  ]);
});

Deno.test("absent, empty or foreign Link headers give no ICE servers", () => {
  assert.deepEqual(parseIceServerLinks(null), []);
  assert.deepEqual(parseIceServerLinks(""), []);
  assert.deepEqual(parseIceServerLinks("garbage"), []);
  assert.deepEqual(parseIceServerLinks('<http://x/>; rel="ice-server"'), []); // not an ICE URL
  assert.deepEqual(parseIceServerLinks("<stun:a:1>; rel=ice-server"), [{ urls: "stun:a:1" }]);
});

Deno.test("the ICE server key ignores order", () => {
  const a = [{ urls: "stun:a:1" }, { urls: "turn:b:2", username: "u", credential: "c" }];
  assert.equal(iceServersKey(a), iceServersKey([...a].reverse()));
  assert.notEqual(iceServersKey(a), iceServersKey(a.slice(1)));
});
