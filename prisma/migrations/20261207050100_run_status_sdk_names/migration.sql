-- Run statuses in the SDK's vocabulary (issue 13): renamed in place, so stored runs keep their meaning.
ALTER TYPE "TaskRunStatus" RENAME VALUE 'PENDING' TO 'QUEUED';
ALTER TYPE "TaskRunStatus" RENAME VALUE 'WAITING_FOR_DEPLOY' TO 'PENDING_VERSION';
