import { logger } from "~/services/logger.server";

/**
 * A page form's fields. A body that is not a form (JSON, plain text, a multipart body with a broken
 * boundary) makes `request.formData()` throw, which Remix answered with a 500; it is the client's
 * doing, so it is a 400 that says what the forms send.
 */
export async function readForm(request: Request): Promise<Record<string, FormDataEntryValue>> {
  try {
    return Object.fromEntries(await request.formData());
  } catch (error) {
    logger.info("page form could not be read", { url: request.url, contentType: request.headers.get("content-type"), error });
    throw new Response("The form could not be read: send it as application/x-www-form-urlencoded, as the page's forms do.", {
      status: 400,
      statusText: "Bad Request",
    });
  }
}
