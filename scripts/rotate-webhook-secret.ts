/**
 * Rotates a project's deploy-webhook secret: prints the new secret on stdout; signatures made with
 * the old one are rejected from now on.
 *
 *   npx tsx scripts/rotate-webhook-secret.ts [project id | slug]
 *   HOTPATH_WEBHOOK_SECRET=$(npx tsx scripts/rotate-webhook-secret.ts)
 *
 * Without an argument, rotates the only project (the quickstart's demo project). Senders sign with
 * scheme v2: `t=<unix seconds>,v2=HMAC-SHA256(secret, "<t>.<METHOD>.<path with query>.<body>")`
 * (docs/api.md); v1 signatures are refused unless the server runs with WEBHOOK_ACCEPT_V1=true.
 * Reads .env like the quickstart does (variables already set win).
 */
import "dotenv/config";
import { prisma, disconnectDb } from "~/db.server";
import { rotateWebhookSecret } from "~/services/credentials.server";

function usage(message: string): never {
  console.error(`${message}\nusage: npx tsx scripts/rotate-webhook-secret.ts [project id | slug]`);
  process.exit(2);
}

const target = process.argv[2];
try {
  const projects = await prisma().project.findMany({
    where: target ? { OR: [{ id: target }, { slug: target }] } : {},
    select: { id: true, slug: true },
    take: 10,
  });
  if (projects.length === 0) usage(target ? `No project '${target}'.` : "There is no project yet (run the seed).");
  if (projects.length > 1) usage(`Several projects match (${projects.map((p) => p.slug).join(", ")}); name one by id.`);
  const rotated = await rotateWebhookSecret(projects[0].id);
  console.error(
    `Rotated the webhook secret of project ${projects[0].slug}. Sign with it as x-hotpath-signature: t=<unix seconds>,` +
      `v2=HMAC-SHA256(secret, "<t>.<METHOD>.<path with query>.<body>") (docs/api.md). The new secret is:`,
  );
  console.log(rotated.webhookSecret);
} finally {
  await disconnectDb();
}
