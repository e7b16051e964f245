import { ConfirmAction } from "~/components/ConfirmAction";
import type { CurrentWorker } from "./types";

export interface PendingConfirmation {
  intent: "rebuild" | "invalidate" | "delete-field";
  field: string | null;
}

/** The confirmation an ADMIN opened (?confirm=…), naming the key (and field) the action will change. */
export function CacheActionConfirmation(props: {
  confirm: PendingConfirmation | null;
  keys: { current: string; owner: string };
  currentWorker: CurrentWorker;
  cancel: string;
}) {
  const { confirm, keys, currentWorker, cancel } = props;
  if (confirm?.intent === "rebuild") {
    return (
      <ConfirmAction
        title="Rebuild the current hash from Postgres?"
        target={keys.current}
        intent="rebuild"
        submitLabel="Rebuild this key"
        cancelTo={cancel}
        returnFocusTo='[data-action="rebuild"]'
      >
        {currentWorker
          ? `Replaces the hash and its owner atomically with the ${currentWorker.taskCount} tasks of version ${currentWorker.version} (the same write as a promotion).`
          : "Postgres has no current worker for this environment, so the hash and its owner are cleared."}
      </ConfirmAction>
    );
  }
  if (confirm?.intent === "invalidate") {
    return (
      <ConfirmAction
        title="Invalidate the current hash?"
        target={keys.current}
        intent="invalidate"
        submitLabel="Delete this key"
        cancelTo={cancel}
        danger
        returnFocusTo='[data-action="invalidate"]'
      >
        Deletes this key and <code className="font-mono text-xs">{keys.owner}</code>. Triggers then read Postgres and back-fill the hash field by field.
      </ConfirmAction>
    );
  }
  if (confirm?.intent === "delete-field" && confirm.field) {
    return (
      <ConfirmAction
        title={`Delete field '${confirm.field}'?`}
        target={keys.current}
        intent="delete-field"
        fields={{ field: confirm.field }}
        submitLabel="Delete this field"
        cancelTo={cancel}
        danger
        returnFocusTo={`tr[data-field="${confirm.field.replace(/["\\]/g, "\\$&")}"] a`}
      >
        Removes the field <code className="font-mono text-xs">{confirm.field}</code> from this key; the next trigger of that task back-fills it from Postgres.
      </ConfirmAction>
    );
  }
  return null;
}
