-- Items of a batch that failed to resolve (a bad option): their indices and `{ index, taskIdentifier, error, errorCode }`.
ALTER TABLE "BatchTaskRun"
  ADD COLUMN "errorIndices" INTEGER[] NOT NULL DEFAULT ARRAY[]::INTEGER[],
  ADD COLUMN "errors" JSONB NOT NULL DEFAULT '[]';
