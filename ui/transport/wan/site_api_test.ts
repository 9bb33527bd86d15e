import assert from "node:assert/strict";
import { preselectEngine } from "../../wan/engine_picker.tsx";
import {
  API,
  loginTarget,
  SIGN_IN_MAX_ATTEMPTS,
  SIGN_IN_WINDOW_MS,
  SignedOutError,
  SignInGuard,
  SiteApi,
  SiteError,
  type StorageLike,
} from "./site_api.ts";

const HERE = "https://smx.example.com/?tile=main";

/** A fetch that answers from a table and records what it was asked. */
function fakeFetch(answer: (path: string, init?: RequestInit) => Response) {
  const calls: { path: string; init?: RequestInit }[] = [];
  const f = (path: string, init?: RequestInit) => {
    calls.push({ path, init });
    return Promise.resolve(answer(path, init));
  };
  return { f, calls };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

Deno.test("site API: never follows a redirect; 401 JSON is signed out with the site's login", async () => {
  const { f, calls } = fakeFetch(() =>
    json({ error: "signed_out", message: "Sign in first", login: "/auth/login?rd=%2F" }, 401)
  );
  const api = new SiteApi(f, () => HERE);
  await assert.rejects(api.session(), (e: SignedOutError) => {
    assert.ok(e instanceof SignedOutError);
    assert.equal(e.login, "https://smx.example.com/auth/login?rd=%2F");
    assert.equal(e.message, "Sign in first");
    return true;
  });
  assert.equal(calls[0].path, API.session);
  assert.equal(calls[0].init?.redirect, "manual");
  assert.equal(calls[0].init?.credentials, "same-origin");
});

Deno.test("site API: an opaque redirect (an SSO proxy's 302) is signed out; login = this page", async () => {
  const redirect = Response.error();
  Object.defineProperty(redirect, "type", { value: "opaqueredirect" });
  const { f } = fakeFetch(() => redirect);
  await assert.rejects(
    new SiteApi(f, () => HERE).engines(),
    (e: SignedOutError) => e instanceof SignedOutError && e.login === HERE,
  );
  // A 3xx a fetch implementation let through reads the same.
  const { f: f2 } = fakeFetch(() =>
    new Response(null, { status: 302, headers: { location: "/x" } })
  );
  await assert.rejects(new SiteApi(f2, () => HERE).session(), SignedOutError);
  // A proxy's own 401 page (not JSON).
  const { f: f3 } = fakeFetch(() => new Response("<html>401</html>", { status: 401 }));
  await assert.rejects(
    new SiteApi(f3, () => HERE).session(),
    (e: SignedOutError) => e instanceof SignedOutError && e.login === HERE,
  );
});

Deno.test("site API: other failures are SiteErrors, not signed out", async () => {
  const { f } = fakeFetch(() => json({ error: "forbidden", message: "no engine x for you" }, 403));
  await assert.rejects(
    new SiteApi(f, () => HERE).joinTokens("x"),
    (e: SiteError) => e instanceof SiteError && e.status === 403 && /no engine/.test(e.message),
  );
  const { f: f2 } = fakeFetch(() => new Response("oops", { status: 502 }));
  await assert.rejects(new SiteApi(f2, () => HERE).session(), SiteError);
});

Deno.test("site API: bodies of the token calls", async () => {
  const { f, calls } = fakeFetch((path) => {
    if (path === API.engines) return json([{ id: "a", label: "", online: true }, { nope: 1 }]);
    return json({ token: `t:${path}`, expiresAt: 1 });
  });
  const api = new SiteApi(f, () => HERE);
  assert.deepEqual(await api.engines(), [{ id: "a", label: "a", online: true }]);
  assert.equal(await api.connectionToken("a"), `t:${API.connectionToken}`);
  assert.equal(await api.subscriptionToken("a", "smx_ctl:a"), `t:${API.subscriptionToken}`);
  const sub = calls.at(-1)!;
  assert.equal(sub.init?.method, "POST");
  assert.equal(sub.init?.redirect, "manual");
  assert.deepEqual(JSON.parse(sub.init?.body as string), { engine: "a", channel: "smx_ctl:a" });
});

Deno.test("sign-in target: http(s) or a path only", () => {
  assert.equal(
    loginTarget("https://auth.example.com/login", HERE),
    "https://auth.example.com/login",
  );
  assert.equal(loginTarget("/login", HERE), "https://smx.example.com/login");
  assert.equal(loginTarget("javascript:alert(1)", HERE), HERE);
  assert.equal(loginTarget(undefined, HERE), HERE);
});

Deno.test("sign-in loop guard: attempts within the window, cleared when signed in", () => {
  const data = new Map<string, string>();
  const store: StorageLike = {
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
  let now = 1_000_000;
  const g = new SignInGuard(store, () => now);
  assert.equal(g.recentAttempts(), 0);
  for (let i = 0; i < SIGN_IN_MAX_ATTEMPTS; i++) {
    assert.equal(g.looping, false);
    g.attempt();
    now += 1000;
  }
  assert.equal(g.looping, true);
  now += SIGN_IN_WINDOW_MS;
  assert.equal(g.recentAttempts(), 0);
  g.attempt();
  assert.equal(new SignInGuard(store, () => now).recentAttempts(), 1); // survives a reload
  g.clear();
  assert.equal(g.recentAttempts(), 0);
  assert.equal(new SignInGuard(null).recentAttempts(), 0); // no storage: no guard, no crash
});

Deno.test("engine choice: ?engine=, else remembered, else the only one", () => {
  const list = [
    { id: "a", label: "A", online: true },
    { id: "b", label: "B", online: false },
  ];
  assert.equal(preselectEngine(list, null, null), null);
  assert.equal(preselectEngine(list, "b", null), "b");
  assert.equal(preselectEngine(list, "b", "a"), "a");
  assert.equal(preselectEngine(list, "gone", "gone"), null);
  assert.equal(preselectEngine([list[1]], null, null), "b");
  assert.equal(preselectEngine([], null, null), null);
});
