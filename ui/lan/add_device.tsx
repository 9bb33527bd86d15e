/**
 * "Add a device", on the smx machine's own page only (the LAN API answers loopback alone): the
 * pairing QR and code, the LAN addresses, the paired devices with "disconnect", and "new code",
 * which ends every LAN session at once. Polled while open; nothing runs while it is closed.
 */
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import {
  formatCode,
  LAN_API_PATH,
  LAN_ROTATE_PATH,
  lanDisconnectPath,
  type LanStatus,
  QR_SVG_PATH,
} from "../../protocol/lan.ts";

const POLL_MS = 2000;

async function call<T>(path: string, method = "GET"): Promise<T> {
  const res = await fetch(path, { method, headers: { accept: "application/json" } });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return await res.json() as T;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

export function AddDevicePanel({ onClose }: { onClose: () => void }) {
  const status = useSignal<LanStatus | null>(null);
  const error = useSignal("");
  const busy = useSignal(false);

  const refresh = async () => {
    try {
      status.value = await call<LanStatus>(LAN_API_PATH);
      error.value = "";
    } catch (e) {
      error.value = (e as Error).message;
    }
  };
  useEffect(() => {
    void refresh();
    const t = setInterval(refresh, POLL_MS);
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && onClose();
    addEventListener("keydown", onKey);
    return () => {
      clearInterval(t);
      removeEventListener("keydown", onKey);
    };
  }, []);

  const act = async (path: string) => {
    busy.value = true;
    try {
      await call(path, "POST");
      await refresh();
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      busy.value = false;
    }
  };

  const s = status.value;
  return (
    <div class="overlay" role="dialog" aria-label="Add a device" data-testid="add-device">
      <div class="dialog">
        <header class="dialog-head">
          <h2>Add a device</h2>
          <button type="button" class="tool" onClick={onClose} aria-label="Close">✕</button>
        </header>
        {error.value && <p class="error">{error.value}</p>}
        {s && !s.enabled && (
          <p>
            The LAN reach is off. Start smx with <code>--lan</code> (the default of{" "}
            <code>scripts/run.sh</code>) to let a tablet or phone on this network connect.
          </p>
        )}
        {s?.enabled && (
          <div class="pairing">
            {/* since: a new QR after each rotation, never a cached old one */}
            <img
              class="qr"
              src={`${QR_SVG_PATH}?v=${s.since}`}
              alt={s.pairingUrl ? `QR code for ${s.pairingUrl.split("#")[0]}` : "no QR code"}
              width={240}
              height={240}
              data-testid="pairing-qr"
            />
            <div class="pairing-text">
              <p>Scan with the device's camera, or open one of these and type the code:</p>
              <ul class="urls">
                {s.urls.map((u) => (
                  <li key={u}>
                    <code>{u}pair</code>
                  </li>
                ))}
              </ul>
              <p class="code" data-testid="pairing-code">{s.code ? formatCode(s.code) : "–"}</p>
              <button
                type="button"
                class="tool"
                disabled={busy.value}
                data-testid="rotate-pairing"
                title="A new QR code and code; every paired device has to pair again"
                onClick={() => act(LAN_ROTATE_PATH)}
              >
                New code (disconnects all devices)
              </button>
            </div>
          </div>
        )}
        {s?.enabled && (
          <section>
            <h3>Paired devices ({s.devices.length})</h3>
            {s.devices.length === 0 && <p class="muted">None yet.</p>}
            <ul class="devices" data-testid="devices">
              {s.devices.map((d) => (
                <li key={d.id} data-device={d.id} data-connected={d.sockets > 0}>
                  <span class={d.sockets > 0 ? "dot on" : "dot"} />
                  <span class="device-addr">{d.address}</span>
                  <span class="device-ua" title={d.userAgent}>{d.userAgent}</span>
                  <span class="muted">paired {ago(d.since)} ago</span>
                  <button
                    type="button"
                    class="tool"
                    disabled={busy.value}
                    onClick={() =>
                      act(lanDisconnectPath(d.id))}
                  >
                    Disconnect
                  </button>
                </li>
              ))}
            </ul>
          </section>
        )}
      </div>
    </div>
  );
}
