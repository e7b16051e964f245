/**
 * Rotates an environment's secret API key: prints the new key on stdout (the only time it is
 * shown) and revokes the old one at once.
 *
 *   npx tsx scripts/rotate-api-key.ts <environment id | environment slug> [--project <project id | slug>]
 *   HOTPATH_PROD_KEY=$(npx tsx scripts/rotate-api-key.ts prod)
 *
 * A slug is enough when one project has an environment with it (the quickstart's demo project).
 * Reads .env like the quickstart does (variables already set win).
 */
import "dotenv/config";
import { prisma } from "~/db.server";
import { shutdown } from "~/lifecycle.server";
import { rotateApiKey } from "~/services/credentials.server";

function usage(message: string): never {
  console.error(`${message}\nusage: npx tsx scripts/rotate-api-key.ts <environment id | slug> [--project <project id | slug>]`);
  process.exit(2);
}

async function findEnvironment(target: string, project: string | undefined) {
  const matches = await prisma().runtimeEnvironment.findMany({
    where: {
      OR: [{ id: target }, { slug: target }],
      ...(project ? { project: { OR: [{ id: project }, { slug: project }] } } : {}),
    },
    select: { id: true, slug: true, project: { select: { slug: true } } },
    take: 10,
  });
  if (matches.length === 0) usage(`No environment '${target}'${project ? ` in project '${project}'` : ""}.`);
  if (matches.length > 1) {
    usage(`'${target}' is ambiguous (${matches.map((m) => `${m.project.slug}/${m.slug}`).join(", ")}); add --project <slug>.`);
  }
  return matches[0];
}

let project: string | undefined;
const positional: string[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--project") project = args[++i] ?? usage("--project needs a value.");
  else positional.push(args[i]);
}
const target = positional[0] ?? usage("Missing the environment.");

try {
  const environment = await findEnvironment(target, project);
  const rotated = await rotateApiKey(environment.id);
  console.error(
    `Rotated the API key of ${environment.project.slug}/${environment.slug}: revoked ${rotated.revokedKeyIds.length} old key(s); the new key (shown once) is:`,
  );
  console.log(rotated.apiKey);
} finally {
  await shutdown();
}
