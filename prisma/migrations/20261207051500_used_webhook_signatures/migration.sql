-- Deploy-webhook replay record (issue 12, findings 5 and 10): kept in Postgres so that a Redis data loss cannot erase it.
-- A row lives until its signature's timestamp is past the tolerance window, then the purge removes it.
CREATE TABLE "UsedWebhookSignature" (
    "digest" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "UsedWebhookSignature_pkey" PRIMARY KEY ("digest")
);

CREATE INDEX "UsedWebhookSignature_expiresAt_idx" ON "UsedWebhookSignature"("expiresAt");
