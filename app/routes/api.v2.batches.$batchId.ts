import type { ActionFunctionArgs, LoaderFunctionArgs } from "@remix-run/node";
import { handleRemixApiRequest } from "~/api/remix";

/** A batch route in the Remix lane: the shared router and handler (app/api/batches.ts). */
export const loader = ({ request, context }: LoaderFunctionArgs) => handleRemixApiRequest(request, context);
export const action = ({ request, context }: ActionFunctionArgs) => handleRemixApiRequest(request, context);
