import { unstorableText } from "~/domain/storableInput";

/**
 * Page inputs (query parameters and form fields) that no page can store or look up: a NUL
 * character or an unpaired surrogate, which Postgres refuses with an error that used to surface
 * as a 500 (issue 12, finding 9). The production server refuses them with a 400 naming the field
 * before any page code runs, as the API does for its bodies.
 */

export interface PageInputProblem {
  /** "Query parameter 'task'" or "Form field 'email'". */
  where: string;
  problem: string;
}

function firstProblem(params: URLSearchParams, kind: string): PageInputProblem | null {
  for (const [name, value] of params) {
    const nameProblem = unstorableText(name);
    if (nameProblem) return { where: `${kind} name ${JSON.stringify(name.replace(/\u0000/g, "\\u0000"))}`, problem: nameProblem };
    const problem = unstorableText(value);
    if (problem) return { where: `${kind} '${name}'`, problem };
  }
  return null;
}

function pathProblem(path: string): PageInputProblem | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return { where: "The path", problem: "is not valid percent-encoded UTF-8" };
  }
  const problem = unstorableText(decoded);
  return problem ? { where: "The path", problem } : null;
}

/** The path segment, query parameter or url-encoded form field that cannot be used first, or null. */
export function pageInputProblem(
  target: { path: string; search: string },
  form: { contentType: string | undefined; body: Buffer | undefined },
): PageInputProblem | null {
  const inPath = pathProblem(target.path);
  if (inPath) return inPath;
  const inQuery = firstProblem(new URLSearchParams(target.search), "Query parameter");
  if (inQuery) return inQuery;
  if (!form.body || !form.contentType?.toLowerCase().startsWith("application/x-www-form-urlencoded")) return null;
  return firstProblem(new URLSearchParams(form.body.toString("utf8")), "Form field");
}
