import { createRequire } from "node:module";
import pino, { type DestinationStream, type Logger } from "pino";
import { getEnv } from "~/env.server";
import { activeTraceIds } from "~/services/tracing.server";

/**
 * Structured logs through pino: one JSON line per event, `{ time, level, msg, ...context }`, debug
 * and info on stdout, warn and error on stderr (as before pino). `error` values (under any key)
 * are flattened to their name, message and first stack lines. A line written inside a span
 * carries that span's `trace_id` and `span_id` (docs/operations.md, "Traces"). In development,
 * with pino-pretty installed, the lines are printed readably instead.
 *
 * The call signature stays `logger.info(message, context)`: the call sites do not know pino.
 */
type Context = Record<string, unknown>;

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack?.split("\n").slice(0, 6).join("\n") };
  }
  return value;
}

function flattenErrors(object: Context): Context {
  for (const key in object) {
    if (object[key] instanceof Error) object[key] = serialise(object[key]);
  }
  return object;
}

/** pino-pretty as a stream when it can be loaded (a dev dependency: absent in a production install). */
function prettyStream(): DestinationStream | undefined {
  try {
    const pretty = createRequire(import.meta.url)("pino-pretty") as (options: object) => DestinationStream;
    return pretty({ colorize: process.stdout.isTTY === true, translateTime: "SYS:HH:MM:ss.l" });
  } catch {
    return undefined;
  }
}

/** Writes through process.stdout/stderr (not straight to the file descriptors), so tests can capture lines. */
function destination(): DestinationStream {
  const pretty = getEnv().NODE_ENV === "development" ? prettyStream() : undefined;
  if (pretty) return pretty;
  return pino.multistream(
    [
      { level: "debug", stream: process.stdout },
      { level: "warn", stream: process.stderr },
    ],
    { dedupe: true },
  );
}

function createLogger(): Logger {
  return pino(
    {
      level: getEnv().LOG_LEVEL,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: flattenErrors },
      mixin: () => activeTraceIds() ?? {},
    },
    destination(),
  );
}

let instance: Logger | undefined;

/** Built on first use, after the environment (LOG_LEVEL, NODE_ENV) is parsed. */
function log(): Logger {
  instance ??= createLogger();
  return instance;
}

export const logger = {
  debug: (message: string, context?: Context) => log().debug({ ...context }, message),
  info: (message: string, context?: Context) => log().info({ ...context }, message),
  warn: (message: string, context?: Context) => log().warn({ ...context }, message),
  error: (message: string, context?: Context) => log().error({ ...context }, message),
};
