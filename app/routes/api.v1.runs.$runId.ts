import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { handleRemixApiRequest } from "~/api/remix";

/** Remix lane of api/v1/runs/$runId (see app/api/router.ts): a thin adapter over the shared handler. Every method goes to the router so that a wrong method gets the same 405 in both lanes. */
export const loader = ({ request, context }: LoaderFunctionArgs) => handleRemixApiRequest(request, context);
export const action = ({ request, context }: ActionFunctionArgs) => handleRemixApiRequest(request, context);
