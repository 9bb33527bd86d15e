/**
 * Starts a child process and waits until its output matches a ready pattern — used to launch the
 * demo engine (smx start, tests, benchmarks) and smx itself in end-to-end tests. Output is kept
 * (bounded) for error messages; a child that exits or stays silent too long is killed and reported
 * with what it printed.
 */

export interface ReadyProcess {
  child: Deno.ChildProcess;
  /** The ready pattern's match. */
  match: RegExpExecArray;
  /** Everything the child printed so far (the last 512 KiB at most). */
  output(): string;
  /** SIGTERM (a clean stop) or SIGKILL (a crash); resolves when the child is gone. */
  stop(signal?: Deno.Signal): Promise<void>;
}

export async function spawnUntilReady(
  cmd: string,
  args: string[],
  o: {
    env?: Record<string, string>;
    ready: RegExp;
    timeoutMs: number;
    what: string;
    /**
     * Outlive us: without it Deno kills the child when this process dies of an uncaught error
     * (not on Deno.exit or SIGKILL). Also a session of its own, so a terminal's Ctrl-C reaches
     * only us and we stop the child cleanly.
     */
    detached?: boolean;
  },
): Promise<ReadyProcess> {
  const child = new Deno.Command(cmd, {
    args,
    env: { NO_COLOR: "1", ...o.env },
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    detached: o.detached ?? false,
  }).spawn();
  let out = "";
  const { promise, resolve, reject } = Promise.withResolvers<RegExpExecArray>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      out += dec.decode(chunk, { stream: true });
      if (out.length > 1 << 20) out = out.slice(-(1 << 19)); // a chatty child must not grow us
      const m = o.ready.exec(out);
      if (m) resolve(m);
    }
  };
  pump(child.stdout).catch(() => {});
  pump(child.stderr).catch(() => {});
  child.status.then((s) => reject(new Error(`${o.what} exited (${s.code}) before ready:\n${out}`)));
  const timer = setTimeout(
    () => reject(new Error(`${o.what} not ready in ${o.timeoutMs} ms:\n${out}`)),
    o.timeoutMs,
  );
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
    await child.status;
  };
  try {
    return { child, match: await promise, output: () => out, stop };
  } catch (e) {
    await stop("SIGKILL");
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
