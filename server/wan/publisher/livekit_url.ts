/**
 * The HTTP base of a LiveKit server from the URL an operator writes down. LiveKit's own clients
 * are configured with its signalling URL (ws:// or wss://); WHIP and the server API live on the
 * same host and port over HTTP, so both spellings are accepted and mean the same server.
 */
export function livekitHttpBase(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`LiveKit URL is not a URL: ${JSON.stringify(url)}`);
  }
  const scheme = { "ws:": "http:", "wss:": "https:", "http:": "http:", "https:": "https:" }[
    u.protocol
  ];
  if (!scheme) {
    throw new TypeError(`LiveKit URL must be ws(s):// or http(s)://, got ${u.protocol}//`);
  }
  // A path prefix is kept (a reverse proxy may mount LiveKit under one); query and hash are not
  // part of a base.
  const path = u.pathname.replace(/\/+$/, "");
  return `${scheme}//${u.host}${path}`;
}
