import fs from "node:fs";

/**
 * CPU time of a process and all its descendants (a cluster primary and its workers), from /proc:
 * utime + stime of each, in clock ticks (100 per second on Linux). Null where /proc is missing.
 */

const TICKS_PER_SECOND = 100;

function stat(pid: number): { ppid: number; ticks: number } | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: fields start after the last ")".
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return null;
  }
}

/** CPU milliseconds used so far by `root` and every process below it, per process id. */
export function treeCpuMs(root: number): Map<number, number> | null {
  if (!fs.existsSync("/proc/self/stat")) return null;
  const all = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const s = stat(Number(entry));
    if (s) all.set(Number(entry), s);
  }
  const result = new Map<number, number>();
  const visit = (pid: number) => {
    const s = all.get(pid);
    if (!s) return;
    result.set(pid, (s.ticks * 1000) / TICKS_PER_SECOND);
    for (const [child, c] of all) if (c.ppid === pid) visit(child);
  };
  visit(root);
  return result;
}

/** Per process, CPU ms spent between two readings (processes present in both). */
export function cpuDelta(before: Map<number, number> | null, after: Map<number, number> | null): Map<number, number> | null {
  if (!before || !after) return null;
  const delta = new Map<number, number>();
  for (const [pid, ms] of after) if (before.has(pid)) delta.set(pid, ms - before.get(pid)!);
  return delta;
}
