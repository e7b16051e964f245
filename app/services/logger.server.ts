import { getEnv } from "~/env.server";

/**
 * Structured logs: one JSON line per event on stderr/stdout. `error` values are flattened to their
 * message and stack so that a log line says what failed without a debugger.
 */
type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    return { name: value.name, message: value.message, stack: value.stack?.split("\n").slice(0, 6).join("\n") };
  }
  return value;
}

function write(level: Level, message: string, context?: Record<string, unknown>) {
  if (ORDER[level] < ORDER[getEnv().LOG_LEVEL]) return;
  const line: Record<string, unknown> = { time: new Date().toISOString(), level, msg: message };
  if (context) for (const [k, v] of Object.entries(context)) line[k] = serialise(v);
  const text = JSON.stringify(line);
  if (level === "error" || level === "warn") process.stderr.write(text + "\n");
  else process.stdout.write(text + "\n");
}

export const logger = {
  debug: (message: string, context?: Record<string, unknown>) => write("debug", message, context),
  info: (message: string, context?: Record<string, unknown>) => write("info", message, context),
  warn: (message: string, context?: Record<string, unknown>) => write("warn", message, context),
  error: (message: string, context?: Record<string, unknown>) => write("error", message, context),
};
