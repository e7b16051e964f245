-- Issue 20: triggers pinned to an external deployment id.
ALTER TABLE "BackgroundWorker" ADD COLUMN "externalDeploymentId" TEXT,
ADD COLUMN "externalIdGeneration" INTEGER;

ALTER TABLE "TaskRun" ADD COLUMN "externalDeploymentId" TEXT,
ADD COLUMN "versionDeadlineAt" TIMESTAMP(3),
ADD COLUMN "error" TEXT;

CREATE UNIQUE INDEX "BackgroundWorker_environmentId_externalDeploymentId_key" ON "BackgroundWorker"("environmentId", "externalDeploymentId");

CREATE INDEX "TaskRun_status_externalDeploymentId_idx" ON "TaskRun"("status", "externalDeploymentId");

CREATE INDEX "TaskRun_status_versionDeadlineAt_idx" ON "TaskRun"("status", "versionDeadlineAt");
