-- CreateTable
CREATE TABLE "TaskRunAlias" (
    "friendlyId" TEXT NOT NULL,
    "environmentId" TEXT NOT NULL,
    "runFriendlyId" TEXT NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TaskRunAlias_pkey" PRIMARY KEY ("friendlyId")
);
