-- The current-hash sweep reads what changed since its last pass (decision 0075): promotions by
-- their update time, registrations by their creation time.
CREATE INDEX "WorkerDeploymentPromotion_updatedAt_idx" ON "WorkerDeploymentPromotion"("updatedAt");
CREATE INDEX "BackgroundWorker_createdAt_idx" ON "BackgroundWorker"("createdAt");

-- The environments list reads projects in (slug, id) order (keyset pages, issue 18).
CREATE INDEX "Project_slug_id_idx" ON "Project"("slug", "id");
