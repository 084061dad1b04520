/**
 * A flag's description with its default said, as `--help` shows it: "(default: 0.05)". Booleans
 * off by default, empty defaults and descriptions that already say their default are left alone.
 */
export const withDefaultSaid = (description: string, value: unknown): string =>
  value === false || value === "" || value === undefined || /\bdefault\b/i.test(description) ? description : `${description} (default: ${String(value)})`
