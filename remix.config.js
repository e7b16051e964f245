/** @type {import('@remix-run/dev').AppConfig} */
export default {
  ignoredRouteFiles: ["**/.*", "**/*.test.*"],
  serverModuleFormat: "esm",
  serverPlatform: "node",
  // Prisma's generated client and its wasm query compiler stay external: node resolves them at run time.
  serverDependenciesToBundle: [],
  postcss: true,
  // The v3 behaviours, adopted now (no notices at build time; docs/decisions/0045-a-quiet-build.md).
  future: {
    v3_fetcherPersist: true,
    v3_relativeSplatPath: true,
    v3_throwAbortReason: true,
    v3_lazyRouteDiscovery: true,
    v3_singleFetch: true,
  },
};
