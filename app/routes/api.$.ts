import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { handleRemixApiRequest } from "~/api/remix";

/** Unknown /api/* paths in the Remix lane: the shared router answers with a 404 JSON (or 405), like the lean lane. Every method goes to the router so that a wrong method gets the same 405 in both lanes. */
export const loader = ({ request, context }: LoaderFunctionArgs) => handleRemixApiRequest(request, context);
export const action = ({ request, context }: ActionFunctionArgs) => handleRemixApiRequest(request, context);
