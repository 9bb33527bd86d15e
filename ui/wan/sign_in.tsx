/**
 * The WAN page without a session: one button that navigates the whole page to the site's login
 * (a top-level navigation, which an SSO proxy may redirect at will; a fetch could not follow it).
 * The SignInGuard (sessionStorage) notices when the page comes back still signed out, says so,
 * and after a few quick attempts explains instead of inviting a loop.
 */
import type { SignInGuard } from "../transport/wan/site_api.ts";

export interface SignInProps {
  /** Where the button goes (the site's `login`, or this page for a proxy's redirect). */
  login: string;
  guard: SignInGuard;
  /** The site's own words, when it gave any. */
  message?: string;
  /** Navigation (tests replace it). */
  go?: (url: string) => void;
}

export function SignIn({ login, guard, message, go }: SignInProps) {
  const attempts = guard.recentAttempts();
  const looping = guard.looping;
  return (
    <div class="gate" data-testid="wan-sign-in" data-attempts={attempts}>
      <div class="dialog gate-box">
        <h2>
          <span class="brand">smx</span> · sign in
        </h2>
        <p>Sign in to see and control the engines shared with you.</p>
        {message && <p class="muted">{message}</p>}
        {attempts > 0 && (
          <p class="error" data-testid="wan-sign-in-again">
            {looping
              ? "Signing in keeps coming back without a session. Check that this browser accepts the site's cookies, or ask the site's administrator."
              : "The site still sees no session after signing in. Try once more."}
          </p>
        )}
        <button
          type="button"
          class="tool primary"
          data-testid="wan-sign-in-button"
          onClick={() => {
            guard.attempt();
            (go ?? ((u) => location.assign(u)))(login);
          }}
        >
          Sign in
        </button>
      </div>
    </div>
  );
}

/** Checking the session, joining, or a problem on the way (with a retry). */
export function GateMessage(
  { text, retry, testid = "wan-status" }: { text: string; retry?: () => void; testid?: string },
) {
  return (
    <div class="gate" data-testid={testid}>
      <div class="dialog gate-box">
        <h2>
          <span class="brand">smx</span>
        </h2>
        <p>{text}</p>
        {retry && (
          <button type="button" class="tool" data-testid="wan-retry" onClick={retry}>
            Try again
          </button>
        )}
      </div>
    </div>
  );
}
