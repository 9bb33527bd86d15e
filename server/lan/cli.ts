/**
 * `smx pairing show|rotate [--port N]`: asks the running smx on this machine, over its loopback
 * API, for the pairing QR and code, or to rotate them (every LAN device then pairs again).
 */
import { parseArgs } from "node:util";
import {
  LAN_API_PATH,
  LAN_ROTATE_PATH,
  type LanStatus,
  type RotateResult,
} from "../../protocol/lan.ts";
import { lanUrlsText, pairingText } from "./banner.ts";

export const PAIRING_HELP =
  `usage: smx pairing show [--port N]     print the LAN pairing QR code and code
       smx pairing rotate [--port N]   new QR code and code; every paired LAN device is
                                       disconnected and pairs again
  --port N   the running smx's port (SMX_PORT, default 7300)
`;

/** smx's loopback listener: 127.0.0.1 by default, [::1] with --bind ::1. */
async function call(port: number, path: string, init?: RequestInit): Promise<Response> {
  let why = "";
  for (const host of ["127.0.0.1", "[::1]"]) {
    try {
      return await fetch(`http://${host}:${port}${path}`, init);
    } catch (e) {
      why ||= (e as Error).message;
    }
  }
  throw new Error(`no smx answers on loopback port ${port} (${why}); pass --port`);
}

async function status(port: number): Promise<LanStatus> {
  const res = await call(port, LAN_API_PATH);
  if (!res.ok) throw new Error(`smx answered ${res.status}: ${(await res.text()).trim()}`);
  return await res.json();
}

/** Runs the command; returns the exit status (errors are printed). */
export async function pairingCli(args: string[]): Promise<number> {
  let f, positionals;
  try {
    ({ values: f, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        port: { type: "string", default: Deno.env.get("SMX_PORT") ?? "7300" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    console.error(`smx pairing: ${(e as Error).message}\n${PAIRING_HELP}`);
    return 2;
  }
  const sub = positionals[0];
  if (f.help || !sub) {
    console.log(PAIRING_HELP);
    return f.help ? 0 : 2;
  }
  const port = Number(f.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`smx pairing: --port ${f.port}: 1..65535`);
    return 2;
  }
  const terminal = Deno.stdout.isTerminal();
  try {
    if (sub === "show") {
      const s = await status(port);
      if (!s.enabled) {
        throw new Error(`smx on port ${port} does not serve the LAN (start it with --lan)`);
      }
      console.log(lanUrlsText(s) + pairingText(s, { terminal: true, port }).trimEnd());
      return 0;
    }
    if (sub === "rotate") {
      const res = await call(port, LAN_ROTATE_PATH, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      if (!res.ok) throw new Error(`smx answered ${res.status}: ${(await res.text()).trim()}`);
      const r: RotateResult = await res.json();
      console.log(
        `pairing rotated: ${r.ended} LAN device(s) disconnected; the old QR code and code no longer work`,
      );
      const s = await status(port);
      // Like start-up: the new secret goes to a terminal only.
      const text = pairingText(s, { terminal, port });
      if (text) console.log(text.trimEnd());
      return 0;
    }
    console.error(`smx pairing: unknown command "${sub}"\n${PAIRING_HELP}`);
    return 2;
  } catch (e) {
    console.error(`smx pairing: ${(e as Error).message}`);
    return 1;
  }
}
