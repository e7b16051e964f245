import type { EnvironmentCachePage } from "~/presenters/environmentCache.server";

/** The page's Redis side when Redis answered. */
export type RedisSide = Extract<EnvironmentCachePage["redis"], { ok: true }>;

/** Links to this page with some query parameters changed (useSearchHref). */
export type SearchHref = (changes: Record<string, string | null>) => string;

export type CurrentWorker = EnvironmentCachePage["currentWorker"];
