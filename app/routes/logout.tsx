import { redirect, type ActionFunctionArgs } from "@remix-run/node";
import { assertSameOrigin, logout } from "~/services/session.server";

// A GET must not sign anyone out (a link or an <img> on another site could do it); only the POST form does.
export const loader = () => redirect("/admin");

export async function action({ request }: ActionFunctionArgs) {
  assertSameOrigin(request);
  return logout(request);
}
