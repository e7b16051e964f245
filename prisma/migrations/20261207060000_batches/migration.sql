-- Batches (issue 14): the batch row, and each run's batch and index within it.
CREATE TABLE "BatchTaskRun" (
    "id" TEXT NOT NULL,
    "friendlyId" TEXT NOT NULL,
    "environmentId" TEXT NOT NULL,
    "runCount" INTEGER NOT NULL,
    "itemsAccepted" INTEGER NOT NULL DEFAULT 0,
    "sealed" BOOLEAN NOT NULL DEFAULT false,
    "sealedAt" TIMESTAMP(3),
    -- Items whose idempotency key returned an existing run: their indices and those runs' friendly ids, in step.
    "cachedIndices" INTEGER[] NOT NULL DEFAULT ARRAY[]::INTEGER[],
    "cachedRunIds" TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
    "idempotencyKey" TEXT,
    "idempotencyKeyExpiresAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "BatchTaskRun_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "BatchTaskRun_friendlyId_key" ON "BatchTaskRun"("friendlyId");
CREATE UNIQUE INDEX "BatchTaskRun_environmentId_idempotencyKey_key" ON "BatchTaskRun"("environmentId", "idempotencyKey");
ALTER TABLE "BatchTaskRun" ADD CONSTRAINT "BatchTaskRun_environmentId_fkey" FOREIGN KEY ("environmentId") REFERENCES "RuntimeEnvironment"("id") ON DELETE CASCADE ON UPDATE CASCADE;

ALTER TABLE "TaskRun" ADD COLUMN "batchId" TEXT, ADD COLUMN "batchIndex" INTEGER;
-- One run per index of a batch: a retried stream's items are deduplicated by it.
CREATE UNIQUE INDEX "TaskRun_batchId_batchIndex_key" ON "TaskRun"("batchId", "batchIndex");
ALTER TABLE "TaskRun" ADD CONSTRAINT "TaskRun_batchId_fkey" FOREIGN KEY ("batchId") REFERENCES "BatchTaskRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;
