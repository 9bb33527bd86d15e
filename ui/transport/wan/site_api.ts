/**
 * The site's API, always same-origin and always with `redirect: "manual"`: behind an SSO proxy a
 * request without a session is answered by a redirect to the login page (Traefik/Caddy forward
 * auth) or a 401 (nginx, and the site itself). A redirect followed inside fetch ends as a bare
 * "Failed to fetch" (the login page is another origin, no CORS), indistinguishable from an
 * outage; `redirect: "manual"` turns it into an `opaqueredirect` response we can read as "signed
 * out". No credentials leave the origin: cookies go with same-origin requests by default.
 */
import type {
  EngineEntry,
  JoinTokens,
  SessionInfo,
  SignedOut,
  SubscriptionToken,
} from "../../../protocol/wan.ts";

export const API = {
  session: "/api/wan/session",
  engines: "/api/wan/engines",
  token: "/api/wan/token",
  connectionToken: "/api/wan/token/connection",
  subscriptionToken: "/api/wan/token/subscription",
} as const;

/** The site says there is no session: show the sign-in prompt, which navigates to `login`. */
export class SignedOutError extends Error {
  constructor(readonly login: string, message = "signed out") {
    super(message);
    this.name = "SignedOutError";
  }
}

/** The site answered, but not with what we asked (5xx, a malformed body, a refusal). */
export class SiteError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "SiteError";
  }
}

export type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * Where a signed-out page goes to sign in: the site's `login` when it says one and it is http(s)
 * or a path; else this page itself (a top-level navigation lets the SSO proxy redirect it to its
 * login and back, which a fetch could not).
 */
export function loginTarget(login: unknown, here: string): string {
  if (typeof login === "string" && login) {
    try {
      const u = new URL(login, here);
      if (u.protocol === "https:" || u.protocol === "http:") return u.href;
    } catch { /* not a URL: fall through */ }
  }
  return here;
}

/**
 * One response of the site's API read as: the JSON body, or SignedOutError (401 or a redirect:
 * `opaqueredirect`, or a 3xx a fetch implementation let through), or SiteError.
 */
export async function readApi<T>(r: Response, here: string): Promise<T> {
  if (r.type === "opaqueredirect" || (r.status >= 300 && r.status < 400)) {
    throw new SignedOutError(loginTarget(null, here), "the site redirected (no session)");
  }
  if (r.status === 401) {
    let body: Partial<SignedOut> = {};
    try {
      body = await r.json();
    } catch { /* a proxy's own 401 page */ }
    throw new SignedOutError(loginTarget(body.login, here), body.message ?? "signed out");
  }
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`.trim();
    try {
      const b = await r.json();
      if (b && typeof b.message === "string") message = b.message;
      else if (b && typeof b.error === "string") message = b.error;
    } catch { /* not JSON */ }
    throw new SiteError(r.status, message);
  }
  try {
    return await r.json() as T;
  } catch {
    throw new SiteError(r.status, "the site's answer is not JSON");
  }
}

/** The site's API as the page uses it. */
export class SiteApi {
  constructor(
    private fetchImpl: Fetch = (i, o) => fetch(i, o),
    private here: () => string = () => location.href,
  ) {}

  async #call<T>(path: string, body?: unknown): Promise<T> {
    const r = await this.fetchImpl(path, {
      method: body === undefined ? "GET" : "POST",
      redirect: "manual",
      credentials: "same-origin",
      cache: "no-store",
      headers: body === undefined
        ? { accept: "application/json" }
        : { accept: "application/json", "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return await readApi<T>(r, this.here());
  }

  session(): Promise<SessionInfo> {
    return this.#call(API.session);
  }
  async engines(): Promise<EngineEntry[]> {
    const r = await this.#call<EngineEntry[] | { engines: EngineEntry[] }>(API.engines);
    const list = Array.isArray(r) ? r : r?.engines;
    if (!Array.isArray(list)) throw new SiteError(200, "the engine list is not a list");
    return list.filter((e) => e && typeof e.id === "string").map((e) => ({
      id: e.id,
      label: typeof e.label === "string" && e.label ? e.label : e.id,
      online: e.online === true,
    }));
  }
  joinTokens(engine: string): Promise<JoinTokens> {
    return this.#call(API.token, { engine });
  }
  /** A fresh Centrifugo connection token. */
  async connectionToken(engine: string): Promise<string> {
    const r = await this.#call<{ token: string }>(API.connectionToken, { engine });
    if (typeof r?.token !== "string") throw new SiteError(200, "no connection token");
    return r.token;
  }
  async subscriptionToken(engine: string, channel: string): Promise<string> {
    const r = await this.#call<SubscriptionToken>(API.subscriptionToken, { engine, channel });
    if (typeof r?.token !== "string") throw new SiteError(200, "no subscription token");
    return r.token;
  }
}

// ---------------------------------------------------------------- sign-in loop guard

/** sessionStorage key of the sign-in attempts (this tab only). */
export const SIGN_IN_GUARD_KEY = "smx.wan.signin";
/** Attempts closer together than this count as one loop. */
export const SIGN_IN_WINDOW_MS = 120_000;
/** After this many attempts in the window the prompt stops offering to go again at once. */
export const SIGN_IN_MAX_ATTEMPTS = 3;

export interface StorageLike {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
  removeItem(k: string): void;
}

/**
 * Guards against a sign-in loop (the proxy signs in, the site still sees no session, the page
 * sends the user to the login again…): each navigation to the login is recorded in
 * sessionStorage; the prompt says so when the page comes back still signed out, and after
 * SIGN_IN_MAX_ATTEMPTS quick attempts it explains instead of looping. Nothing navigates by itself.
 */
export class SignInGuard {
  constructor(private store: StorageLike | null, private now: () => number = Date.now) {}

  #read(): number[] {
    try {
      const v = JSON.parse(this.store?.getItem(SIGN_IN_GUARD_KEY) ?? "[]");
      return Array.isArray(v) ? v.filter((x) => typeof x === "number") : [];
    } catch {
      return [];
    }
  }

  /** Attempts within the window (the page came back signed out after each of them). */
  recentAttempts(): number {
    const t = this.now();
    return this.#read().filter((x) => t - x < SIGN_IN_WINDOW_MS).length;
  }

  /** Whether another navigation now would probably loop. */
  get looping(): boolean {
    return this.recentAttempts() >= SIGN_IN_MAX_ATTEMPTS;
  }

  /** Records a navigation to the login (call just before it). */
  attempt(): void {
    const t = this.now();
    const list = this.#read().filter((x) => t - x < SIGN_IN_WINDOW_MS);
    list.push(t);
    try {
      this.store?.setItem(SIGN_IN_GUARD_KEY, JSON.stringify(list.slice(-10)));
    } catch { /* storage refused: no guard, the button still works */ }
  }

  /** Signed in: forget the attempts. */
  clear(): void {
    try {
      this.store?.removeItem(SIGN_IN_GUARD_KEY);
    } catch { /* ignore */ }
  }
}
