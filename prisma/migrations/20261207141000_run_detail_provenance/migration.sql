-- Run detail (issue 19): where the trigger's task metadata came from, and how often a later
-- trigger reused the run through its idempotency key. Both are written by statements the hot path
-- already sends (the insert, and the follow-up of a conflicting keyed insert).
ALTER TABLE "TaskRun" ADD COLUMN "metadataSource" TEXT;
ALTER TABLE "TaskRun" ADD COLUMN "idempotencyReuseCount" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "TaskRun" ADD COLUMN "idempotencyLastReusedAt" TIMESTAMP(3);
