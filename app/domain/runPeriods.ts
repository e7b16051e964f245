/** The runs list's time ranges (pure): how far back from now a period reaches, and its label. */
export const RUN_PERIODS = ["15m", "1h", "24h", "7d"] as const;
export type RunPeriod = (typeof RUN_PERIODS)[number];

const SECONDS: Record<RunPeriod, number> = { "15m": 900, "1h": 3_600, "24h": 86_400, "7d": 604_800 };

export const RUN_PERIOD_LABELS: Record<RunPeriod, string> = {
  "15m": "Last 15 minutes",
  "1h": "Last hour",
  "24h": "Last 24 hours",
  "7d": "Last 7 days",
};

export function periodStart(period: RunPeriod, now: Date): Date {
  return new Date(now.getTime() - SECONDS[period] * 1000);
}
