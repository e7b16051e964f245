import { EmptyState } from "~/components/EmptyState";
import type { TriggerBufferOverview } from "~/presenters/triggerBuffer.server";
import { count, Section, Tile } from "./figures";

const WARN = "border-amber-200 bg-amber-50 text-amber-700";

/** Triggers accepted while Postgres could not take them, waiting to be drained (docs/operations.md). */
export function TriggerBufferTiles({ buffer }: { buffer: TriggerBufferOverview }) {
  return (
    <Section title="Trigger buffer" description="Triggers accepted while Postgres could not take the run insert, waiting in Redis to be drained.">
      {!buffer.enabled ? (
        <EmptyState title="Buffering is off">With TRIGGER_BUFFER_ENABLED=false a Postgres outage makes every trigger a 503.</EmptyState>
      ) : !buffer.available ? (
        <EmptyState title="Trigger buffer unavailable">The general Redis did not answer; see the server log.</EmptyState>
      ) : (
        <div className="space-y-3" data-testid="trigger-buffer">
          <div className="grid grid-cols-2 gap-3 md:grid-cols-3">
            <Tile
              label="Buffered runs"
              value={count(buffer.depth)}
              hint={`bound ${count(buffer.max)} per stream, ${buffer.shards} streams`}
              className={buffer.depth > 0 ? WARN : undefined}
            />
            <Tile label="Oldest entry" value={buffer.depth > 0 ? `${buffer.oldestAgeSeconds} s` : "—"} hint="time since it was accepted" />
            <Tile label="Drain rate" value={`${buffer.drainedPerSecond}/s`} hint="runs written to Postgres, last minute, every instance" />
          </div>
          {buffer.warning ? <p className="rounded border border-amber-200 bg-amber-50 p-3 text-sm text-amber-800">{buffer.warning}</p> : null}
        </div>
      )}
    </Section>
  );
}
