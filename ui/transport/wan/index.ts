/**
 * The WAN page (loaded by a dynamic import() only in the WAN reach: its own chunk with
 * livekit-client and centrifuge). Before anything it asks the site who is signed in:
 *
 *   GET  /api/wan/session   401 / redirect → the sign-in prompt (ui/wan/sign_in.tsx)
 *   GET  /api/wan/engines   → the engine picker (ui/wan/engine_picker.tsx; remembered; one → it)
 *   POST /api/wan/token     {engine} → JoinTokens → the transports, then the same App as locally
 *
 * A session that ends later (a token refresh answered 401 or a redirect) closes the transports
 * and shows the sign-in prompt again.
 */
import { type ComponentChild, h, render } from "preact";
import type { EngineEntry, JoinTokens } from "../../../protocol/wan.ts";
import type { Transports } from "../select.ts";
import { ENGINE_CHOICE_KEY, EnginePicker, preselectEngine } from "../../wan/engine_picker.tsx";
import { GateMessage, SignIn } from "../../wan/sign_in.tsx";
import { CentrifugeParamSource } from "./params_centrifuge.ts";
import { SignedOutError, SignInGuard, SiteApi, SiteError, type StorageLike } from "./site_api.ts";
import { LiveKitVideoSource } from "./video_livekit.ts";
import { mark } from "./marks.ts";
import { startWatch, type WatchHandle, watchRequested } from "../../watch/watch.tsx";

/** How often a joined page re-reads the engine list (online state, session still there). */
export const ENGINES_POLL_MS = 15_000;

export interface WanPageOptions {
  root: HTMLElement;
  /** Mounts the app on the joined transports (main.tsx: diagnostics + <App>). */
  mount(t: Transports): void;
  api?: SiteApi;
  /**
   * Called instead when the page is WAN by its hostname only (no reach meta) and its origin has
   * no site API (404): smx itself served it under a public-looking name; it falls back to the
   * local transports.
   */
  notSite?: () => void;
}

function storage(kind: "localStorage" | "sessionStorage"): StorageLike | null {
  try {
    return globalThis[kind] ?? null;
  } catch {
    return null; // storage blocked
  }
}

export async function startWanPage(opts: WanPageOptions): Promise<void> {
  const { root } = opts;
  mark("start");
  const api = opts.api ?? new SiteApi();
  const guard = new SignInGuard(storage("sessionStorage"));
  const show = (node: ComponentChild) => render(node, root);
  let transports: { video: LiveKitVideoSource; params: CentrifugeParamSource } | null = null;
  let watch: WatchHandle | null = null;

  const signedOut = (e: SignedOutError) => {
    watch?.close();
    watch = null;
    if (transports) {
      transports.video.close();
      transports.params.close();
      transports = null;
    }
    show(h(SignIn, { login: e.login, guard, message: e.message }));
  };

  const problem = (e: unknown) => {
    if (e instanceof SignedOutError) return signedOut(e);
    if (e instanceof SiteError && e.status === 404 && opts.notSite) {
      render(null, root);
      return opts.notSite();
    }
    show(h(GateMessage, {
      text: `The site could not be reached: ${(e as Error)?.message ?? e}`,
      retry: () => void run(),
    }));
  };

  let userId: string | undefined;
  const join = async (engine: EngineEntry) => {
    show(h(GateMessage, { text: `Joining ${engine.label}…` }));
    let tokens: JoinTokens;
    try {
      tokens = await api.joinTokens(engine.id);
    } catch (e) {
      return problem(e);
    }
    mark("tokens");
    // A viewer (the site's role), or a page asked for as /watch: the on-air venues only.
    if (tokens.role === "viewer" || watchRequested()) {
      render(null, root);
      watch = startWatch({
        root,
        api,
        join: tokens,
        rejoin: () => api.joinTokens(engine.id),
        onSignedOut: (login) => signedOut(new SignedOutError(login, "Your session ended.")),
      });
      mark("mounted");
      return;
    }
    const params = new CentrifugeParamSource({
      api,
      join: tokens,
      online: engine.online,
      user: userId,
      onSignedOut: (login) => signedOut(new SignedOutError(login, "Your session ended.")),
    });
    mark("params-made");
    const video = new LiveKitVideoSource({
      join: tokens,
      link: params,
      rejoin: () => api.joinTokens(engine.id),
    });
    mark("transports");
    transports = { video, params };
    // The site's engine list says whether smx is connected to it (Centrifugo presence), and a
    // session that ended shows here too even while the Centrifugo tokens still run.
    const poll = setInterval(async () => {
      if (!transports || transports.params !== params) return clearInterval(poll);
      try {
        const list = await api.engines();
        const e = list.find((x) => x.id === engine.id);
        if (e) params.setOnline(e.online);
      } catch (err) {
        if (err instanceof SignedOutError) signedOut(err);
      }
    }, ENGINES_POLL_MS);
    // Read-only diagnostics for tests and a curious user (window.__smx has the tiles).
    Object.defineProperty(globalThis, "__smxWan", {
      value: Object.freeze({
        engine: engine.id,
        video: () => video.diagnostics(),
        params: () => ({ clientId: params.clientId, state: params.state.peek(), ...params.stats }),
      }),
      configurable: true,
    });
    render(null, root);
    opts.mount({ reach: "wan", video, params });
    mark("mounted");
  };

  const run = async () => {
    show(h(GateMessage, { text: "Checking your session…" }));
    let user: string | undefined;
    let engines: EngineEntry[];
    try {
      // Both at once (one round trip less before the first frame); signed out fails both alike.
      const enginesP = api.engines();
      enginesP.catch(() => {}); // awaited below; the session's failure is the one reported
      const s = await api.session();
      guard.clear();
      user = s?.user?.name || s?.user?.email || s?.user?.id;
      userId = typeof s?.user?.id === "string" ? s.user.id : undefined;
      engines = await enginesP;
      mark("engines");
    } catch (e) {
      return problem(e);
    }
    const local = storage("localStorage");
    const pick = preselectEngine(
      engines,
      local?.getItem(ENGINE_CHOICE_KEY) ?? null,
      new URLSearchParams(location.search).get("engine"),
    );
    const choose = (id: string) => {
      try {
        local?.setItem(ENGINE_CHOICE_KEY, id);
      } catch { /* not remembered */ }
      void join(engines.find((e) => e.id === id)!);
    };
    if (pick) return choose(pick);
    show(h(EnginePicker, { engines, user, onPick: choose }));
  };

  await run();
}
