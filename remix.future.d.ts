// Single fetch (remix.config.js `v3_singleFetch`): loaders' data reaches components with its real
// types (a Date stays a Date), so useLoaderData<typeof loader> must type it that way too.
import "@remix-run/server-runtime";

declare module "@remix-run/server-runtime" {
  interface Future {
    v3_singleFetch: true;
  }
}
