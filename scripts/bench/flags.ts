/** A whole-number flag of at least 1, or exit 2 with the command's usage line. */
export function positiveIntFlag(usage: string) {
  return (name: string, value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) {
      console.error(`--${name} must be a whole number of at least 1, got ${JSON.stringify(value)}\n${usage}`);
      process.exit(2);
    }
    return n;
  };
}
