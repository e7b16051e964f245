-- Every trigger option the SDK sends is stored with the run (issue 13).
ALTER TABLE "TaskRun"
  ADD COLUMN "idempotencyKeyExpiresAt" TIMESTAMP(3),
  ADD COLUMN "concurrencyKey" TEXT,
  ADD COLUMN "maxAttempts" INTEGER,
  ADD COLUMN "maxDurationInSeconds" INTEGER,
  ADD COLUMN "machinePreset" TEXT,
  ADD COLUMN "priorityMs" INTEGER NOT NULL DEFAULT 0,
  ADD COLUMN "region" TEXT,
  ADD COLUMN "isTest" BOOLEAN NOT NULL DEFAULT false,
  ADD COLUMN "payloadType" TEXT NOT NULL DEFAULT 'application/json',
  ADD COLUMN "metadataType" TEXT NOT NULL DEFAULT 'application/json',
  ADD COLUMN "traceparent" TEXT,
  ADD COLUMN "tracestate" TEXT,
  ADD COLUMN "sdkVersion" TEXT,
  ADD COLUMN "triggerClient" TEXT,
  ADD COLUMN "expiredAt" TIMESTAMP(3),
  ADD COLUMN "canceledAt" TIMESTAMP(3),
  ADD COLUMN "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP;

-- The lifecycle scheduler's two scans: due delays and due expiries, by status.
CREATE INDEX "TaskRun_status_delayUntil_idx" ON "TaskRun"("status", "delayUntil");
CREATE INDEX "TaskRun_status_expiresAt_idx" ON "TaskRun"("status", "expiresAt");
