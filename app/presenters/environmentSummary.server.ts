import type { Prisma } from "~/generated/prisma/client.ts";
import type { EnvironmentType } from "~/domain/environments";

/**
 * How the admin pages name an environment (project / slug, and its type), read with one select and
 * listed in one order, so every page shows and sorts environments alike.
 */

export interface EnvironmentSummary {
  id: string;
  slug: string;
  type: EnvironmentType;
  projectSlug: string;
  projectName: string;
}

export const environmentSummarySelect = {
  id: true,
  slug: true,
  type: true,
  project: { select: { slug: true, name: true } },
} as const satisfies Prisma.RuntimeEnvironmentSelect;

export const byProjectThenSlug: Prisma.RuntimeEnvironmentOrderByWithRelationInput[] = [{ project: { slug: "asc" } }, { slug: "asc" }];

export function environmentSummary(environment: {
  id: string;
  slug: string;
  type: EnvironmentType;
  project: { slug: string; name: string };
}): EnvironmentSummary {
  return {
    id: environment.id,
    slug: environment.slug,
    type: environment.type,
    projectSlug: environment.project.slug,
    projectName: environment.project.name,
  };
}
